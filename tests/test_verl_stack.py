"""The pinned stack is consistent: verl 0.9.1's trainer entry and config import and compose on CPU."""

import importlib.metadata as md

from packaging.version import Version

from tests.repo import compose_verl


def test_pinned_versions():
    assert md.version("verl") == "0.9.1"
    transformers = Version(md.version("transformers"))
    assert Version("5.5.3") <= transformers < Version("5.11") and transformers != Version("5.6.0")
    assert Version(md.version("TransferQueue")) >= Version("0.1.10")
    assert md.version("torch").startswith("2.11.0")
    assert md.version("torchvision").startswith("0.26.0")


def test_trainer_entry_imports_and_composes():
    import verl.trainer.main_ppo as main_ppo
    import verl.trainer.ppo.ray_trainer  # noqa: F401  (needs cachetools, TransferQueue: verl-core deps)

    cfg = compose_verl()
    assert callable(main_ppo.main)
    assert "custom_cls" in cfg.data and "custom_reward_function" in cfg.reward


def test_qwen25vl_processor_classes_import():
    """transformers 5.x builds a Qwen2.5-VL processor only with torchvision present."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor  # noqa: F401
    import qwen_vl_utils  # noqa: F401
    import math_verify  # noqa: F401
