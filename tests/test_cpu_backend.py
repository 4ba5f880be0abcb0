"""The CPU backend's guards: it refuses a verl it was not written for, and each patch of a verl internal fails
loudly (not silently) when the thing it patches moved. Run in subprocesses: loading the backend changes verl
process-wide, and these tests must not leak that into the rest of the suite."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.e2e import REPO

CPU_ENV = {**os.environ, "VERL_PLATFORM": "cpu", "VERL_USE_EXTERNAL_MODULES": "recipes.cpu.plugin"}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )


def test_loaded_through_verls_hook_it_registers_platform_engines_rollout_and_patches():
    result = run_python(
        """
        import sys
        import verl  # VERL_USE_EXTERNAL_MODULES imports recipes.cpu.plugin here
        # the plugin loads in every verl process: it must not import the v1 trainer (4 s) nor vLLM (whose presence
        # marks a vLLM engine process for recipes.cpu.vllm_cpu)
        assert "verl.trainer.ppo.v1" not in sys.modules and "vllm" not in sys.modules, "the plugin imported too much"
        from verl.utils.device import get_device_name, get_nccl_backend, get_torch_device
        from verl.utils.distributed import initialize_global_process_group_ray
        from verl.workers.engine.base import EngineRegistry
        from verl.workers.engine.fsdp import transformer_impl
        from verl.workers.rollout.base import get_rollout_class
        from verl.workers.rollout.replica import get_rollout_replica_class

        assert get_device_name() == "cpu" and get_nccl_backend() == "gloo"
        device = get_torch_device()
        free, total = device.mem_get_info()
        assert 0 < free <= total and device.memory_allocated() == 0 and device.get_rng_state().numel() > 0
        assert EngineRegistry.get_engine_cls("language_model", "fsdp2").__name__ == "FSDPEngineWithLMHead"
        assert get_rollout_class("hf_cpu", "async").__name__ == "HFServerAdapter"
        assert get_rollout_replica_class("hf_cpu").__name__ == "HFReplica"
        assert initialize_global_process_group_ray.__defaults__ == (None, "gloo")
        assert transformer_impl.CPUOffloadPolicy(pin_memory=True).pin_memory is False
        from recipes.cpu.patches import CPU_REPLAY_POLL_SECONDS
        from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer, ReplayBufferAsync
        assert CPU_REPLAY_POLL_SECONDS < 2.0
        for cls in (ReplayBuffer, ReplayBufferAsync):
            buffer = cls("sync", {}, None, "drop", {})
            assert buffer.poll_interval == CPU_REPLAY_POLL_SECONDS, cls
        print("OK")
        """,
        CPU_ENV,
    )
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-3000:]


def test_without_verl_platform_cpu_the_plugin_refuses_to_load():
    env = {k: v for k, v in CPU_ENV.items() if k != "VERL_PLATFORM"}
    result = run_python("import verl", env)
    assert result.returncode != 0
    assert "VERL_PLATFORM=cpu" in result.stderr


def test_another_verl_version_is_refused_with_a_clear_message():
    result = run_python(
        """
        import verl
        from recipes.cpu import plugin
        verl.__version__ = "0.9.2"
        try:
            plugin._check_verl_version()
        except plugin.UnsupportedVerlError as err:
            print("REFUSED:", err)
        """,
        CPU_ENV,
    )
    assert "REFUSED:" in result.stdout, result.stderr[-3000:]
    assert "verl==0.9.1 only, found verl 0.9.2" in result.stdout


def test_patches_fail_loudly_when_verl_moved_what_they_patch():
    result = run_python(
        """
        from verl.utils import distributed
        from verl.workers.engine.fsdp import transformer_impl
        from recipes.cpu import patches

        def moved(timeout_second=None, backend=None, *, extra=None):  # a new signature
            return None
        distributed.initialize_global_process_group_ray = moved
        try:
            patches.force_gloo_process_group()
        except patches.VerlMovedError as err:
            print("GLOO-REFUSED:", err)
        del transformer_impl.CPUOffloadPolicy
        try:
            patches.unpinned_fsdp2_offload()
        except patches.VerlMovedError as err:
            print("OFFLOAD-REFUSED:", err)
        from verl.trainer.ppo.v1 import replay_buffer
        assert replay_buffer.ReplayBuffer("sync", {}, None, "drop", {}).poll_interval == 2.0  # verl's, unpatched
        replay_buffer.ReplayBuffer.__init__.__defaults__ = (5, *replay_buffer.ReplayBuffer.__init__.__defaults__[1:])
        try:
            patches.quicker_replay_buffer_poll(replay_buffer)
        except patches.VerlMovedError as err:
            print("POLL-REFUSED:", err)
        """,
        os.environ.copy(),
    )
    assert "GLOO-REFUSED:" in result.stdout and "OFFLOAD-REFUSED:" in result.stdout, result.stderr[-3000:]
    assert "POLL-REFUSED:" in result.stdout, result.stderr[-3000:]
    assert "update recipes/cpu/patches.py" in result.stdout
