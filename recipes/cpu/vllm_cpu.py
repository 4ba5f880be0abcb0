"""verl 0.9.1's own vLLM rollout (`rollout.name=vllm`) on vLLM's CPU build: the settings and the two named patches.

Everything of verl's vLLM path runs unchanged (`vLLMReplica`, `vLLMHttpServer`, vLLM's `AsyncLLM` in its own
EngineCore process, verl's `vLLMColocateWorkerExtension`, the bucketed weight sync); this module only holds what a
CPU needs around it. Install the CPU build with `python -m recipes.cpu.install_vllm`.

Patches (each checks that the code it changes is what it was written against, and stops the run if not):
- `keep_linear_weights`: vLLM's CPU linear layers prepack their weight for oneDNN and then drop it
  (`remove_weight=True`); verl's weight sync loads into `layer.weight` in place, so every sync would fail
  (`Attempted to load weight (torch.Size([192, 64])) into parameter (torch.Size([0]))`). Keep the weight; verl's
  worker extension re-runs `process_weights_after_loading` after each sync, which prepacks it again. Applied in
  vLLM's worker process, which loads this backend when it imports verl's worker extension.
- `bounded_weight_sync`: verl's `BucketedWeightSender` waits for each bucket's acknowledgement with a blocking
  `recv()` and no timeout; when loading fails inside vLLM no acknowledgement ever comes and the run hangs for
  ever. Give the sender's socket a receive timeout (`WETHINK_WEIGHT_SYNC_TIMEOUT` seconds per bucket) and turn
  the timeout into an error that says what happened. It reaches verl through its rollout table: the CPU plugin
  points `("vllm", "async")` at this module's `ServerAdapter`, which is verl's own class, handed out after the
  patch.

`WETHINK_VLLM_KEEP_WEIGHTS=0` leaves vLLM's weights dropped: the negative control that shows a failing weight sync
stops the run within the timeout instead of hanging.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
from importlib import metadata

from recipes.cpu.patches import VerlMovedError

logger = logging.getLogger(__name__)

VLLM_VERSION = "0.24.0"  # verl 0.9.1's pin; recipes.cpu.install_vllm installs its CPU build
ALIAS_VERSION = f"{VLLM_VERSION}+cpu"  # the `vllm` distribution that build is installed as (see install_vllm)
VERL_SERVER_ADAPTER = "verl.workers.rollout.vllm_rollout.ServerAdapter"
# vLLM's CPU worker binds its OpenMP threads to cores by default; on a small machine shared with the trainer's
# processes that starves them. Let the OS schedule.
ENV = {"VLLM_CPU_OMP_THREADS_BIND": "nobind"}
KV_CACHE_BYTES = 32 << 20  # without it vLLM sizes the KV cache as gpu_memory_utilization x the host RAM; the tiny
# model in float32 needs 512 bytes a token: 32 MiB hold 65k tokens
WEIGHT_SYNC_TIMEOUT_ENV = "WETHINK_WEIGHT_SYNC_TIMEOUT"
DEFAULT_WEIGHT_SYNC_TIMEOUT_S = 120.0  # per bucket; a bucket of the tiny model takes well under a second


class VllmMissingError(RuntimeError):
    """`rollout.name=vllm` on CPU without vLLM's CPU build installed."""


def engine_overrides(section: str) -> list[str]:
    """The settings one vLLM rollout needs on CPU, for the config section of that rollout (the policy's
    `actor_rollout_ref.rollout` or a verl-hosted judge's `reward.reward_model.rollout`). `++`: the user's own
    value, coming later on the command line, still wins."""
    return [
        f"++{section}.enable_sleep_mode=false",  # vLLM refuses sleep mode on CPU; verl's default is true
        f"{section}.enforce_eager=true",  # else torch inductor compiles the model (a C++ toolchain, minutes)
        # float32 (verl's default is bfloat16): vLLM's CPU layers then prepack their weights for oneDNN on every
        # x86 CPU, so `keep_linear_weights` is what every run relies on; in bfloat16 a CPU without AVX512-BF16
        # (AVX2 only) falls back to torch's linear, keeping the weights anyway, and the negative control of the
        # weight sync could not fail there. On CPU it costs nothing: the tiny model's actor is float32 too.
        f"{section}.dtype=float32",
        f"++{section}.engine_kwargs.vllm.kv_cache_memory_bytes={KV_CACHE_BYTES}",
        f"++{section}.engine_kwargs.vllm.skip_mm_profiling=true",  # ~45 s of multimodal profiling at start-up
    ]


def installed(name: str) -> str | None:
    """The installed version of a distribution, None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_installed() -> str:
    """The installed vLLM's version, if it is the CPU build of the version verl 0.9.1 pins; else a clear error."""
    version = installed("vllm")
    if version != ALIAS_VERSION:
        found = f"vllm {version}" if version else "no vllm"
        raise VllmMissingError(
            f"rollout.name=vllm on CPU needs vLLM {VLLM_VERSION}'s CPU build, found {found}: "
            f"run `python -m recipes.cpu.install_vllm` (or use actor_rollout_ref.rollout.name=hf_cpu)"
        )
    return version


def _source(obj: object) -> str:
    """The code of what a patch changes, "" when there is none to read (replaced by a lambda, a C function)."""
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return ""


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise VerlMovedError(f"CPU backend: vLLM/verl internal changed, cannot patch {what}; update recipes/cpu/vllm_cpu.py")


def keep_linear_weights() -> None:
    """See the module doc. Replaces `UnquantizedLinearMethod.process_weights_after_loading` on CPU with the same
    call that keeps `layer.weight`."""
    from vllm.model_executor.layers import linear, utils

    method = linear.UnquantizedLinearMethod.process_weights_after_loading
    if getattr(method, "_wethink_keeps_weights", False):
        return
    _require(
        "dispatch_cpu_unquantized_gemm(layer, remove_weight=True)" in _source(method),
        "vllm UnquantizedLinearMethod.process_weights_after_loading (no dispatch_cpu_unquantized_gemm(remove_weight=True))",
    )
    _require(
        "remove_weight" in inspect.signature(utils.dispatch_cpu_unquantized_gemm).parameters,
        "vllm.model_executor.layers.utils.dispatch_cpu_unquantized_gemm(layer, remove_weight)",
    )

    def process_weights_after_loading(self, layer) -> None:
        utils.dispatch_cpu_unquantized_gemm(layer, remove_weight=False)

    process_weights_after_loading._wethink_keeps_weights = True
    linear.UnquantizedLinearMethod.process_weights_after_loading = process_weights_after_loading
    print(f"[cpu backend] pid {os.getpid()}: vLLM's CPU linear layers keep their weights (verl syncs into them)",
          flush=True)  # fmt: skip


def weight_sync_timeout() -> float:
    raw = os.environ.get(WEIGHT_SYNC_TIMEOUT_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_WEIGHT_SYNC_TIMEOUT_S
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise ValueError(f"{WEIGHT_SYNC_TIMEOUT_ENV}={raw!r}: expected a finite number of seconds > 0")
    return value


class WeightSyncError(RuntimeError):
    """The vLLM worker never acknowledged a bucket of weights: loading them failed inside vLLM."""


def bounded_weight_sync() -> None:
    """See the module doc. Wraps `BucketedWeightSender._init_socket` (adds the timeout to the socket verl made)
    and `async_send_weights` (names the failure)."""
    import zmq
    from verl.workers.rollout.vllm_rollout import bucketed_weight_transfer as transfer

    sender = transfer.BucketedWeightSender
    if getattr(sender, "_wethink_bounded", False):
        return
    _require(
        "zmq.REQ" in _source(sender._init_socket) and "self.socket.recv()" in _source(sender),
        "verl BucketedWeightSender (a REQ socket made in _init_socket, acknowledged with self.socket.recv())",
    )
    timeout = weight_sync_timeout()
    init_socket, send_weights = sender._init_socket, sender.async_send_weights

    def _init_socket(self):
        init_socket(self)
        self.socket.setsockopt(zmq.RCVTIMEO, int(timeout * 1000))

    async def async_send_weights(self, weights):
        try:
            return await send_weights(self, weights)
        except zmq.Again:
            raise WeightSyncError(
                f"weight sync to vLLM: no acknowledgement for a bucket of weights within {timeout:.0f} s "
                f"({WEIGHT_SYNC_TIMEOUT_ENV}): loading them failed inside vLLM's worker (its error is in the log "
                "above) or the worker is gone"
            ) from None

    sender._init_socket, sender.async_send_weights = _init_socket, async_send_weights
    sender._wethink_bounded = True


def activate_in_vllm_worker() -> None:
    """Called by the CPU plugin in every process: acts only where vLLM is already loaded (its EngineCore /
    worker process, which imports verl's worker extension and so this backend after vLLM itself)."""
    if "vllm" in sys.modules and os.environ.get("WETHINK_VLLM_KEEP_WEIGHTS", "1") != "0":
        keep_linear_weights()


def __getattr__(name: str):
    """`ServerAdapter` for verl's rollout table: verl's own vLLM adapter, with the sender bounded first (the import
    of verl's vLLM rollout, and so of vLLM, happens only in the processes that use it)."""
    if name == "ServerAdapter":
        bounded_weight_sync()
        from verl.workers.rollout.vllm_rollout import ServerAdapter

        return ServerAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
