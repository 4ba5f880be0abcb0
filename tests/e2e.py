"""Running a launcher's `--smoke` as a user does, and reading verl's own metrics back from what it printed.

verl's console logger prints one line per step, `step:N - key:value - key:value ...` (values may be written
as `np.float64(0.5)`), through Ray's log forwarding. The end-to-end tests assert on those numbers.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.openai_server import ChatServer, Reply, last_user_text
from tests.repo import REPO

_STEP_LINE = re.compile(r"step:(\d+) - (.*)$")
_PAIR = re.compile(r"([\w@/.\-]+):(?:np\.\w+\()?(-?(?:[0-9.]+(?:e[-+]?\d+)?|nan|inf))\)?")


def parse_step_metrics(text: str) -> dict[int, dict[str, float]]:
    """{step: {metric: value}} from verl's console lines (the last line printed for a step wins)."""
    steps: dict[int, dict[str, float]] = {}
    for line in text.splitlines():
        match = _STEP_LINE.search(line)
        if match:
            steps[int(match.group(1))] = {k: float(v) for k, v in _PAIR.findall(match.group(2))}
    return steps


@dataclass
class SmokeRun:
    launcher: str
    returncode: int
    output: str
    seconds: float
    peak_pss_gib: float
    ckpt_dir: Path
    steps: dict[int, dict[str, float]] = field(default_factory=dict)

    def tail(self, chars: int = 6000) -> str:
        return self.output[-chars:]


def session_pids(session_id: int) -> list[int]:
    """Every process of a session and their descendants: a run started in its own session (and a `ray start`
    node) keeps what it starts there, Ray's daemons and actors included, even those whose parent has exited; a
    child that starts a session of its own (a Ray job's driver) is still a descendant."""
    children: dict[int, list[int]] = {}
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                _state, parent, _group, session = f.read().rsplit(")", 1)[1].split()[:4]
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(int(parent), []).append(int(entry.name))
        if int(session) == session_id:
            found.append(int(entry.name))
    seen, stack = set(found), list(found)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return sorted(seen)


def _session_pss_kib(session_id: int) -> int:
    """Proportional set size of a whole session: shared pages (torch, CUDA libraries mapped by every actor)
    counted once in total, not once per process as summed RSS would."""
    total = 0
    for pid in session_pids(session_id):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


# Each sample reads smaps_rollup of every process of the run (~25, several of 0.5-1 GB): ~0.1 s of CPU. Every
# 0.5 s that was 32 s of CPU in a 153 s run (a fifth of a core, taken from the run it measures); the runs' memory
# rises as actors start and then holds to the end, so a sample every 2 s still sees the plateau.
PSS_SAMPLE_S = 2.0


def run_smoke(
    launcher: str, *overrides: str, cwd: Path, env: dict[str, str], timeout: float = 480, also_measure: tuple = ()
) -> SmokeRun:
    """`bash LAUNCHER --smoke OVERRIDES` from `cwd` in a session of its own, sampling the memory (PSS) of that
    whole session, plus the sessions in `also_measure` (the nodes of a cluster the run submits to)."""
    start = time.monotonic()
    log_path = cwd / f"smoke-{Path(launcher).stem}-{int(time.time() * 1000)}.log"
    peak = 0
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            ["bash", str(REPO / launcher), "--smoke", *overrides],
            cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            while proc.poll() is None:
                peak = max(peak, sum(_session_pss_kib(sid) for sid in (proc.pid, *also_measure)))
                if time.monotonic() - start > timeout:
                    proc.kill()
                    break
                time.sleep(PSS_SAMPLE_S)
        finally:
            proc.wait()
            _kill_session(proc.pid)
    output = log_path.read_text(errors="replace")
    ckpt = Path(env["CKPT_DIR"])
    run = SmokeRun(launcher, proc.returncode, output, time.monotonic() - start, peak / 2**20, ckpt)
    run.steps = parse_step_metrics(output)
    return run


def _kill_session(pid: int) -> None:
    """Stop whatever the run left behind in its own session (its Ray processes), nothing else."""
    import signal

    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# What every end-to-end test asserts, on verl's own metrics -------------------------------------------------

JUDGE_KEY_ENV = "WETHINK_E2E_JUDGE_KEY"
JUDGE_KEY = "e2e-secret-key-123"
MIN_CORRELATION = 0.9
MAX_PSS_GIB = 8.0  # one end-to-end run on hf_cpu, its whole process tree
MAX_PSS_GIB_VLLM = 10.0  # on vLLM: its EngineCore process (one per engine) on top
VLLM = "actor_rollout_ref.rollout.name=vllm"  # verl's own switch; --smoke adds what vLLM needs on CPU
REWARD_KEYS = ("score", "acc", "format", "route_rule", "route_model", "acc_rule", "acc_model", "judge_ok", "reason")
STEPS = 2


def grading_judge(request: dict) -> Reply:
    """A judge on loopback: grades the candidate against the reference by exact text, tiers 1 / 0."""
    text = last_user_text(request)
    reference = re.search(r"<reference_answer>\n(.*?)\n</reference_answer>", text, re.S)
    candidate = re.search(r"<candidate_answer>\n(.*?)\n</candidate_answer>", text, re.S)
    same = reference and candidate and reference.group(1).strip().lower() == candidate.group(1).strip().lower()
    return Reply(content="1" if same else "0")


def smoke_env(shared, run_dir, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATA_DIR", "RAY_ADDRESS", "JUDGE_URL")}
    env.update(
        PYTHON=sys.executable,  # the launchers' interpreter: this test's, virtualenv or not
        PATH=f"{os.path.dirname(sys.executable)}{os.pathsep}{env.get('PATH', '')}",
        WETHINK_CACHE=str(shared["cache"]),
        SAMPLE_DATA_DIR=str(shared["data"]),
        CKPT_DIR=str(run_dir / "ckpt"),
        TENSORBOARD_DIR=str(run_dir / "tensorboard"),
        LOGGER="[console,tensorboard]",
        **{JUDGE_KEY_ENV: JUDGE_KEY},
        **extra,
    )
    return env


def sessions_pss_gib(sessions: tuple[int, ...]) -> float:
    """What the processes of these sessions hold now (an idle cluster's daemons, before a run is submitted)."""
    return sum(_session_pss_kib(sid) for sid in sessions) / 2**20


def report(run: SmokeRun, idle_cluster_gib: float = 0.0, budget_gib: float = MAX_PSS_GIB) -> None:
    """Print the run's wall time and peak memory, and hold it to the budget. A run submitted to a cluster is
    measured with the cluster's nodes; what those held idle before the submission (Ray's own daemons: GCS,
    raylets, dashboard, agents, which a real cluster runs whether or not a job is on it) is not the run's."""
    own = run.peak_pss_gib - idle_cluster_gib
    cluster = f" (+ the idle cluster's {idle_cluster_gib:.1f} GiB = {run.peak_pss_gib:.1f} GiB)" if idle_cluster_gib else ""
    print(f"\n[e2e] {run.launcher}: {run.seconds:.0f} s wall, peak PSS of its processes {own:.1f} GiB{cluster}")
    assert own < budget_gib, f"{run.launcher} used {own:.1f} GiB"


def training_steps(run: SmokeRun) -> dict[int, dict[str, float]]:
    """The steps verl trained (an update happened); validation before training logs a line of its own."""
    return {step: m for step, m in run.steps.items() if "actor/grad_norm" in m}


def assert_ran(run: SmokeRun, steps: range, validated_first: bool = True) -> None:
    assert run.returncode == 0, run.tail()
    assert "smoke: verl's real trainer on CPU with a tiny random Qwen2.5-VL" in run.output
    trained = training_steps(run)
    assert sorted(trained) == list(steps), f"steps trained: {sorted(trained)}\n{run.tail()}"
    if validated_first:  # validation before training, logged at the step training starts from
        assert_validation_has_reward_keys(run.steps[steps[0] - 1])


def assert_reward_has_variance(metrics: dict[str, float]) -> None:
    assert 0.0 < metrics["critic/score/mean"] < 1.0, metrics["critic/score/mean"]


def has_learning_signal(metrics: dict[str, float]) -> bool:
    """GRPO's advantage is a score minus its group's mean: a step whose every group scored alike (a tiny model that
    answers every rollout of each prompt wrong) has none, and verl rightly computes a zero gradient for it."""
    return metrics["critic/advantages/max"] > 0.0 or metrics["critic/advantages/min"] < 0.0


def assert_update_is_real(metrics: dict[str, float]) -> None:
    assert has_learning_signal(metrics), "every group scored alike: no advantage to learn from"
    assert metrics["actor/grad_norm"] > 0.0, "a step with non-zero advantages had a zero gradient"


def assert_weight_sync(metrics: dict[str, float]) -> None:
    """The rollout server generates with the weights the actor holds: their token probabilities agree."""
    corr = metrics["training/rollout_actor_probs_pearson_corr"]
    assert corr > MIN_CORRELATION, f"rollout vs actor probability correlation {corr:.3f} <= {MIN_CORRELATION}"


def assert_validation_has_reward_keys(metrics: dict[str, float]) -> None:
    for key in REWARD_KEYS:  # verl files `acc` under val-core/, the other keys under val-aux/
        names = (f"val-aux/wethink/{key}/mean@1", f"val-core/wethink/{key}/mean@1")
        assert any(name in metrics for name in names), f"{names[0]} missing"


def assert_checkpoints(run: SmokeRun, steps: range) -> None:
    for step in steps:
        actor = run.ckpt_dir / f"global_step_{step}" / "actor"
        assert actor.is_dir() and any(actor.glob("model_world_size_*")), f"no checkpoint at {actor}"
    assert (run.ckpt_dir / "latest_checkpointed_iteration.txt").read_text().strip() == str(steps[-1])


def assert_trained_whole(run: SmokeRun, validated_first: bool = True) -> None:
    assert_ran(run, range(1, STEPS + 1), validated_first)
    steps = training_steps(run)
    for step, metrics in steps.items():
        assert_reward_has_variance(metrics)
        if has_learning_signal(metrics):  # a step without one (all groups alike) is GRPO's, not a broken update
            assert_update_is_real(metrics)
        assert_weight_sync(metrics)
        assert_validation_has_reward_keys(metrics)
    assert any(has_learning_signal(m) for m in steps.values()), "no step had a learning signal: nothing was trained"
    assert_checkpoints(run, range(1, STEPS + 1))


def patched_vllm_engines(run: SmokeRun) -> set[str]:
    """The pids of vLLM engine processes that loaded the CPU backend's keep-weights patch (one per engine)."""
    return set(re.findall(r"\[cpu backend\] pid (\d+): vLLM's CPU linear layers keep their weights", run.output))


def assert_generated_by_vllm(run: SmokeRun, engines: int = 1) -> None:
    """verl's vLLM rollout ran: its vLLMHttpServer actors, and vLLM's engine processes with the CPU backend's
    patch (one per engine: the policy's, a hosted judge's)."""
    assert "smoke: rollout: vllm" in run.output
    assert "(vLLMHttpServer pid=" in run.output, "no vLLMHttpServer actor in the log"
    patched = patched_vllm_engines(run)
    assert len(patched) == engines, f"vLLM engine processes with the CPU patch: {sorted(patched)}"


def assert_judge_reached_with_its_key(run: SmokeRun, judge: ChatServer) -> None:
    """The judge route was reached from verl's reward workers, with the key named by JUDGE_API_KEY_ENV."""
    assert f"judge: {judge.base_url}" in run.output
    assert judge.requests, "no request reached the loopback judge"
    assert all(h.get("Authorization") == f"Bearer {JUDGE_KEY}" for h in judge.headers)
    assert JUDGE_KEY not in run.output, "the judge key leaked into the logs"


def assert_wethink_metrics_every_step_and_plot(run: SmokeRun, run_dir) -> None:
    """The recipe's entry point adds wethink/* to what verl logs, at every training step, into tensorboard."""
    from recipes.wethink.plot_run import load_scalars, main as plot_run

    for step, metrics in training_steps(run).items():  # the console logger got them too
        assert "wethink/rule/acc" in metrics and "wethink/format" in metrics, f"step {step}"
    scalars = load_scalars(run_dir / "tensorboard")
    for name in ("wethink/rule/acc", "wethink/format", "wethink/judged", "wethink/reason/NO_ANSWER_BLOCK"):
        assert sorted(step for step, _ in scalars.get(name, [])) == [1, 2], f"{name}: {scalars.get(name)}"
    model_acc = scalars.get("wethink/model/acc", [])  # only steps whose batch drew a judge-route row
    assert model_acc and all(math.isfinite(value) for _, value in model_acc + scalars["wethink/rule/acc"])
    assert any(name.startswith("val-aux/wethink/rule/") for name in scalars), "validation lacks wethink/ names"
    png = run_dir / "run.png"
    assert plot_run([str(run_dir / "tensorboard"), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
