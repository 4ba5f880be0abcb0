"""verl's own trainer, end to end on CPU, from this recipe's launchers: every variant's `--smoke`.

Each test runs `bash LAUNCHER --smoke` from a temporary directory, exactly as a user would, and asserts on the
metrics verl itself printed: the reward has variance (score mean strictly between 0 and 1), the update is real
(grad norm > 0), the rollout runs the weights the actor trained (rollout-vs-actor probability correlation, with
a negative control that disables weight sync), the reward's keys reach validation (`val-aux/...`), a checkpoint
is written per step. Resuming from a checkpoint is proven by the two-node test (tests/test_e2e_multinode.py). The
tiny model and the prepared sample are built once per session and shared (tests/conftest.py).
"""

from __future__ import annotations

import pytest

from tests.e2e import (
    JUDGE_KEY_ENV,
    STEPS,
    assert_checkpoints,
    assert_judge_reached_with_its_key,
    assert_ran,
    assert_trained_whole,
    assert_update_is_real,
    assert_weight_sync,
    assert_wethink_metrics_every_step_and_plot,
    report,
    run_smoke,
    smoke_env,
    training_steps,
)

pytestmark = pytest.mark.e2e

def test_paper_run_end_to_end_with_the_loopback_judge(shared, judge, tmp_path):
    """The paper launcher's --smoke: validates first, trains, reaches the judge, logs wethink/* every step."""
    env = smoke_env(shared, tmp_path, JUDGE_URL=judge.base_url, JUDGE_API_KEY_ENV=JUDGE_KEY_ENV)
    run = run_smoke("run_grpo.sh", cwd=tmp_path, env=env)
    report(run)
    assert_trained_whole(run)
    assert_judge_reached_with_its_key(run, judge)
    assert not (tmp_path / "outputs").exists(), "Hydra wrote outputs/ into the working directory"
    assert_wethink_metrics_every_step_and_plot(run, tmp_path)


def test_negative_control_weight_sync_assertion_fails_without_sync(shared, tmp_path):
    """With the rollout ignoring weight updates it keeps verl's dummy (random) weights: the check must fail. Run
    through the 3b launcher, whose smoke would otherwise repeat the paper run's (the tiny model replaces both
    models; its yaml differs only in sizes the smoke overrides): it trains a step end to end all the same."""
    run = run_smoke(
        "recipes/wethink/run_wethink_3b.sh",
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
