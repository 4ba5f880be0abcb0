"""verl's own trainer, end to end on CPU, from this recipe's launchers: every variant's `--smoke`.

Each test runs `bash LAUNCHER --smoke` from a temporary directory, exactly as a user would, and asserts on the
metrics verl itself printed: the reward has variance (score mean strictly between 0 and 1), the update is real
(grad norm > 0), the rollout runs the weights the actor trained (rollout-vs-actor probability correlation, with
a negative control that disables weight sync), the reward's keys reach validation (`val-aux/...`), a checkpoint
is written per step, and a second run resumes from it. The tiny model and the prepared sample are built once
per session and shared.
"""

from __future__ import annotations

import math
import os
import re
import sys

import pytest

from data_prep.wethink import prepare
from recipes.wethink.smoke import ensure_tiny_model
from tests.e2e import REPO, SmokeRun, run_smoke
from tests.openai_server import ChatServer, Reply, last_user_text

pytestmark = pytest.mark.e2e

JUDGE_KEY_ENV = "WETHINK_E2E_JUDGE_KEY"
JUDGE_KEY = "e2e-secret-key-123"
MIN_CORRELATION = 0.9
MAX_PSS_GIB = 8.0  # one end-to-end run, its whole process tree
REWARD_KEYS = ("score", "acc", "format", "route_rule", "route_model", "acc_rule", "acc_model", "judge_ok", "reason")
STEPS = 2


def grading_judge(request: dict) -> Reply:
    """A judge on loopback: grades the candidate against the reference by exact text, tiers 1 / 0."""
    text = last_user_text(request)
    reference = re.search(r"<reference_answer>\n(.*?)\n</reference_answer>", text, re.S)
    candidate = re.search(r"<candidate_answer>\n(.*?)\n</candidate_answer>", text, re.S)
    same = reference and candidate and reference.group(1).strip().lower() == candidate.group(1).strip().lower()
    return Reply(content="1" if same else "0")


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """One tiny model (in a cache the launchers read) and one prepared sample for every end-to-end run."""
    root = tmp_path_factory.mktemp("e2e_shared")
    cache = root / "cache"
    ensure_tiny_model(cache)
    data = root / "sample_data"
    prepare(
        REPO / "examples" / "sample" / "wethink_sample.jsonl",
        REPO / "examples" / "sample" / "images",
        data,
        val_size=8,
        embed_images=True,
        progress=False,
    )
    return {"cache": cache, "data": data}


@pytest.fixture
def judge():
    """A loopback judge of the test's own (its requests and headers are this test's alone)."""
    with ChatServer(grading_judge) as server:
        yield server


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


def report(run: SmokeRun) -> None:
    print(f"\n[e2e] {run.launcher}: {run.seconds:.0f} s wall, peak PSS of its process tree {run.peak_pss_gib:.1f} GiB")
    assert run.peak_pss_gib < MAX_PSS_GIB, f"{run.launcher} used {run.peak_pss_gib:.1f} GiB"


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


def assert_update_is_real(metrics: dict[str, float]) -> None:
    assert metrics["actor/grad_norm"] > 0.0


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
    for step, metrics in training_steps(run).items():
        assert_reward_has_variance(metrics)
        assert_update_is_real(metrics)
        assert_weight_sync(metrics)
        assert_validation_has_reward_keys(metrics)
    assert_checkpoints(run, range(1, STEPS + 1))


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


def test_paper_run_end_to_end_with_the_loopback_judge_then_resume(shared, judge, tmp_path):
    """The paper launcher's --smoke: trains, reaches the judge, logs wethink/* every step; a second run resumes.
    One test, so the resume always finds the first run's checkpoints (xdist may put tests on other workers)."""
    env = smoke_env(shared, tmp_path, JUDGE_URL=judge.base_url, JUDGE_API_KEY_ENV=JUDGE_KEY_ENV)
    run = run_smoke("run_grpo.sh", cwd=tmp_path, env=env)
    report(run)
    assert_trained_whole(run)
    assert_judge_reached_with_its_key(run, judge)
    assert not (tmp_path / "outputs").exists(), "Hydra wrote outputs/ into the working directory"
    assert_wethink_metrics_every_step_and_plot(run, tmp_path)

    resumed = run_smoke(
        "run_grpo.sh", "trainer.resume_mode=auto", f"trainer.total_training_steps={STEPS + 1}",
        "trainer.val_before_train=false", cwd=tmp_path, env=env,
    )  # fmt: skip
    report(resumed)
    assert_ran(resumed, range(STEPS + 1, STEPS + 2), validated_first=False)  # step 3 only: 1-2 from the checkpoint
    assert_update_is_real(resumed.steps[STEPS + 1])
    assert_weight_sync(resumed.steps[STEPS + 1])
    assert_checkpoints(resumed, range(1, STEPS + 2))


def test_negative_control_weight_sync_assertion_fails_without_sync(shared, tmp_path):
    """With the rollout ignoring weight updates it keeps verl's dummy (random) weights: the check must fail."""
    run = run_smoke(
        "run_grpo.sh",
        "+actor_rollout_ref.rollout.engine_kwargs.hf_cpu.ignore_weight_updates=true",
        "trainer.total_training_steps=1", "trainer.val_before_train=false", "trainer.test_freq=-1",
        "trainer.save_freq=-1",
        cwd=tmp_path, env=smoke_env(shared, tmp_path),
    )  # fmt: skip
    report(run)
    assert_ran(run, range(1, 2), validated_first=False)
    assert "IGNORING weight update" in run.output
    with pytest.raises(AssertionError, match="correlation"):
        assert_weight_sync(run.steps[1])


@pytest.mark.parametrize(
    "launcher",
    [
        "recipes/wethink/run_wethink_3b.sh",
        "recipes/wethink/run_rule_only.sh",
        "recipes/wethink/run_judge_external.sh",
        "recipes/wethink/run_judge_colocated.sh",
    ],
)
def test_every_variant_trains_end_to_end(launcher, shared, judge, tmp_path):
    env = smoke_env(shared, tmp_path)
    if launcher.endswith("judge_external.sh"):
        env.update(JUDGE_URL=judge.base_url)
    # Validation before training is proven by the paper run; here validation after each step carries val-aux.
    run = run_smoke(launcher, "trainer.val_before_train=false", cwd=tmp_path, env=env)
    report(run)
    assert_trained_whole(run, validated_first=False)
    last = run.steps[STEPS]
    if launcher.endswith("rule_only.sh"):  # descriptive rows are dropped: nothing reaches a judge
        assert last["val-aux/wethink/route_model/mean@1"] == 0.0
    if launcher.endswith("judge_colocated.sh"):  # verl hosted the judge: its server started with that role
        assert "[hf_cpu] replica 0 (judge)" in run.output


def test_dapo_variant_filters_groups_with_nothing_to_learn_and_still_trains_full_batches(shared, tmp_path):
    """One canned answer per 10 rollouts leaves some groups of 5 with identical rewards: they are filtered out
    and refilled, and every step still trains on train_batch_size x n samples."""
    run = run_smoke(
        "recipes/wethink/run_wethink_dapo.sh",
        "actor_rollout_ref.rollout.engine_kwargs.hf_cpu.canned_share=0.1", "trainer.val_before_train=false",
        cwd=tmp_path, env=smoke_env(shared, tmp_path),
    )  # fmt: skip
    report(run)
    assert_ran(run, range(1, STEPS + 1), validated_first=False)
    steps = training_steps(run)
    assert sum(m.get("training/filter_groups/evicted_samples", 0) for m in steps.values()) > 0, "nothing filtered"
    for metrics in steps.values():
        assert metrics["wethink/samples"] == 4 * 5  # data.train_batch_size x rollout.n, after refilling
        assert metrics["critic/score/max"] > metrics["critic/score/min"]  # overlong shaping makes scores < 0
        assert_update_is_real(metrics)
        assert_weight_sync(metrics)
    assert_checkpoints(run, range(1, STEPS + 1))
