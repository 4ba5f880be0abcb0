"""The verl 0.9.1 internals a CPU run changes, each named, explained, and checked before it is touched.

verl has no extension point for any of them. Each patch first checks that the thing it changes is still exactly
what 0.9.1 ships (signature, source text); if verl moved it, `VerlMovedError` stops the run at import time
instead of silently doing nothing. Nothing here runs unless the CPU backend is loaded (`VERL_PLATFORM=cpu`).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import inspect
import sys


class VerlMovedError(RuntimeError):
    """A patched verl internal is not where, or not what, 0.9.1 had: the CPU backend must be updated."""


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise VerlMovedError(f"CPU backend: verl internal changed, cannot patch {what}; update recipes/cpu/patches.py")


def force_gloo_process_group() -> None:
    """`verl.utils.distributed.initialize_global_process_group_ray` builds the backend string
    `cpu:gloo,{device}:{backend}`; on a CPU platform that is `cpu:gloo,cpu:gloo`, which torch rejects
    (one backend per device). Make its default backend plain `gloo`. Every importer (e.g.
    `verl.workers.engine_workers`) holds the same function object, so changing its defaults reaches them all."""
    from verl.utils import distributed

    fn = getattr(distributed, "initialize_global_process_group_ray", None)
    _require(fn is not None, "verl.utils.distributed.initialize_global_process_group_ray (missing)")
    params = list(inspect.signature(fn).parameters.values())
    _require(
        [p.name for p in params] == ["timeout_second", "backend"] and fn.__defaults__ in ((None, None), (None, "gloo")),
        f"initialize_global_process_group_ray signature {inspect.signature(fn)}",
    )
    _require('backend = backend or f"cpu:gloo,' in inspect.getsource(fn), "initialize_global_process_group_ray body")
    fn.__defaults__ = (None, "gloo")


def unpinned_fsdp2_offload() -> None:
    """The FSDP2 engine (`verl.workers.engine.fsdp.transformer_impl`) builds `CPUOffloadPolicy(pin_memory=True)`
    for forward-only models (the reference policy) whatever the config says. Pinning host memory needs an
    accelerator and raises without one. Give that module a `CPUOffloadPolicy` that never pins."""
    from verl.workers.engine.fsdp import transformer_impl

    original = getattr(transformer_impl, "CPUOffloadPolicy", None)
    _require(original is not None, "verl.workers.engine.fsdp.transformer_impl.CPUOffloadPolicy (missing)")
    if getattr(original, "_wethink_unpinned", False):
        return
    _require(
        "CPUOffloadPolicy(pin_memory=True)" in inspect.getsource(transformer_impl),
        "transformer_impl's CPUOffloadPolicy(pin_memory=True) call",
    )

    def cpu_offload_policy(pin_memory: bool = False, **kwargs):
        return original(pin_memory=False, **kwargs)

    cpu_offload_policy._wethink_unpinned = True
    transformer_impl.CPUOffloadPolicy = cpu_offload_policy


# How often the trainer looks for finished rollouts on CPU (verl polls every 2 s): a CPU step generates in 1-2 s, so
# verl's 2 s made every step's `timing_s/gen` a multiple of 2 s (4.0 or 6.0, measured) and was ~30% of a step.
CPU_REPLAY_POLL_SECONDS = 0.2
REPLAY_BUFFER_MODULE = "verl.trainer.ppo.v1.replay_buffer"


def quicker_replay_buffer_poll(replay_buffer) -> None:
    """The v1 trainer's `ReplayBuffer.sample` waits `poll_interval` (a constructor default of 2.0 that no config sets)
    between looks at the TransferQueue. Built for GPU steps of minutes; on CPU it waits longer than the rollout takes.
    Make the default `CPU_REPLAY_POLL_SECONDS`; the subclasses (`ReplayBufferAsync`) inherit the constructor."""
    cls = getattr(replay_buffer, "ReplayBuffer", None)
    _require(cls is not None, f"{REPLAY_BUFFER_MODULE}.ReplayBuffer (missing)")
    init = cls.__init__
    optional = [p for p in inspect.signature(init).parameters.values() if p.default is not inspect.Parameter.empty]
    _require(
        bool(optional) and optional[0].name == "poll_interval" and len(optional) == len(init.__defaults__ or ())
        and init.__defaults__[0] in (2.0, CPU_REPLAY_POLL_SECONDS),
        f"ReplayBuffer.__init__ signature {inspect.signature(init)}",
    )  # fmt: skip
    _require("time.sleep(self.poll_interval)" in inspect.getsource(replay_buffer), "ReplayBuffer's poll (its sleep)")
    init.__defaults__ = (CPU_REPLAY_POLL_SECONDS, *init.__defaults__[1:])


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs `patch(module)` right after `name` is first imported. For a module too heavy to import in every verl
    process (the v1 trainer pulls in vLLM: +4 s, and vLLM's presence switches on `recipes.cpu.vllm_cpu`'s engine
    patch), only the trainer's processes import it."""

    def __init__(self, name: str, patch):
        self.name, self.patch = name, patch

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        _require(spec is not None and spec.loader is not None, f"{fullname} (not found)")
        exec_module, patch = spec.loader.exec_module, self.patch

        def exec_then_patch(module):
            exec_module(module)
            patch(module)

        spec.loader.exec_module = exec_then_patch
        return spec


def after_import(name: str, patch) -> None:
    """`patch(module)` now if `name` is imported, else right after its first import (once per process)."""
    if name in sys.modules:
        patch(sys.modules[name])
    elif not any(isinstance(f, _AfterImport) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(name, patch))


def apply_all() -> None:
    force_gloo_process_group()
    unpinned_fsdp2_offload()
    after_import(REPLAY_BUFFER_MODULE, quicker_replay_buffer_poll)
