"""GPU smoke test: `run_grpo.sh` for one real step on the bundled sample with a tiny Qwen2.5-VL.

Skipped unless this machine has a CUDA GPU and the `[gpu]` extra (vLLM) installed; CI has neither. For whoever
has a GPU node: `pip install -e .[gpu,test] && pytest -m gpu tests/test_gpu_smoke.py`.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess

import pytest
import torch

from tests.repo import REPO

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vLLM (pip install -e .[gpu])"),
]


def test_run_grpo_one_step_on_the_sample(tmp_path, tiny_vl_dir):
    env = {
        **os.environ,
        "MODEL_PATH": str(tiny_vl_dir),
        "GPUS_PER_NODE": "1",
        "ROLLOUT_TP": "1",
        "SAMPLE_DATA_DIR": str(tmp_path / "data"),
        "CKPT_DIR": str(tmp_path / "ckpt"),
        "SAVE_FREQ": "1",
        "TEST_FREQ": "-1",
        "LOGGER": "[console]",
    }
    result = subprocess.run(
        [
            "bash", "run_grpo.sh",
            "trainer.total_training_steps=1",
            "trainer.val_before_train=false",
            "data.max_response_length=64",
            "actor_rollout_ref.rollout.gpu_memory_utilization=0.3",
            "actor_rollout_ref.ref.fsdp_config.param_offload=false",
            "reward.num_workers=1",
        ],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert (tmp_path / "ckpt" / "global_step_1").is_dir()
