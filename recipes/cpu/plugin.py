"""A CPU backend for verl 0.9.1: its real trainer (`verl.trainer.main_ppo`) end to end without an accelerator.

Loaded in every verl process through verl's own hook, before anything else of verl runs:

    VERL_USE_EXTERNAL_MODULES=recipes.cpu.plugin VERL_PLATFORM=cpu python -m verl.trainer.main_ppo ... \
        actor_rollout_ref.rollout.name=hf_cpu trainer.device=cpu ...

(`--smoke` sets all of this up, with the environment in `recipes.cpu.env`; see README "Check your fork on CPU").
On import it:
1. refuses any verl but 0.9.1 (the patches below are written against it);
2. registers the `cpu` platform (`recipes.cpu.platform`), selected only by `VERL_PLATFORM=cpu`;
3. registers verl's own FSDP engines for the `cpu` device (verl registers them for cuda/npu only);
4. registers the `hf_cpu` rollout (`recipes.cpu.rollout`), and points verl's own `vllm` rollout at its adapter
   with a bounded weight sync (`recipes.cpu.vllm_cpu`, for vLLM's CPU build);
5. applies the named patches of verl internals (`recipes.cpu.patches`), each failing loudly if moved;
6. in vLLM's own worker process, keeps the weights of vLLM's CPU linear layers (`recipes.cpu.vllm_cpu`).

It is for checking integration, never for training a real model.
"""

from __future__ import annotations

import importlib
import os

SUPPORTED_VERL = "0.9.1"
ROLLOUT_NAME = "hf_cpu"  # recipes.cpu.rollout.ROLLOUT_NAME (not imported here: see _register_rollout)
ROLLOUT_MODULE = "recipes.cpu.rollout"
VLLM_ADAPTER = "recipes.cpu.vllm_cpu.ServerAdapter"  # verl's own, handed out with the weight sync bounded


class UnsupportedVerlError(RuntimeError):
    """The CPU backend was loaded under a verl it was not written for."""


def _check_verl_version() -> None:
    import verl

    version = getattr(verl, "__version__", "unknown")
    if version != SUPPORTED_VERL:
        raise UnsupportedVerlError(
            f"recipes.cpu (the CPU backend) supports verl=={SUPPORTED_VERL} only, found verl {version}: "
            f"install verl=={SUPPORTED_VERL} (pip install -e .) or unset VERL_USE_EXTERNAL_MODULES"
        )


def _register_cpu_engines() -> None:
    from verl.workers.engine.base import EngineRegistry
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead, FSDPEngineWithValueHead

    for model_type, engine in (("language_model", FSDPEngineWithLMHead), ("value_model", FSDPEngineWithValueHead)):
        if "cpu" not in EngineRegistry._engines.get(model_type, {}).get("fsdp2", {}):
            EngineRegistry.register(model_type=model_type, backend=["fsdp", "fsdp2"], device="cpu")(engine)


def _register_rollout() -> None:
    """`hf_cpu` in verl's replica registry and in its in-worker rollout table (which has no register function);
    verl's `vllm` entry in that table pointed at `recipes.cpu.vllm_cpu` (verl's adapter, weight sync bounded).
    By name, imported lazily: `recipes.cpu.rollout` imports verl, and verl imports this module."""
    from verl.workers.rollout import base
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    from recipes.cpu.patches import VerlMovedError
    from recipes.cpu.vllm_cpu import VERL_SERVER_ADAPTER

    table = getattr(base, "_ROLLOUT_REGISTRY", None)
    if not isinstance(table, dict) or table.get(("vllm", "async")) not in (VERL_SERVER_ADAPTER, VLLM_ADAPTER):
        raise VerlMovedError("verl.workers.rollout.base._ROLLOUT_REGISTRY changed; update recipes/cpu/plugin.py")
    RolloutReplicaRegistry.register(ROLLOUT_NAME, lambda: importlib.import_module(ROLLOUT_MODULE).HFReplica)
    table[(ROLLOUT_NAME, "async")] = f"{ROLLOUT_MODULE}.HFServerAdapter"
    table[("vllm", "async")] = VLLM_ADAPTER


def activate() -> None:
    """Everything above; idempotent (Python imports a module once per process, tests may call it again)."""
    _check_verl_version()
    if os.environ.get("VERL_PLATFORM", "").strip().lower() != "cpu":
        raise RuntimeError("recipes.cpu.plugin is the CPU backend: load it only with VERL_PLATFORM=cpu")
    from recipes.cpu import patches, platform, vllm_cpu  # noqa: F401 - platform registers itself on import

    _register_cpu_engines()
    _register_rollout()
    patches.apply_all()
    vllm_cpu.activate_in_vllm_worker()


activate()
