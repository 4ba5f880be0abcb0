"""verl's own trainer, end to end on CPU, from this recipe's launchers: each variant's `--smoke`.

Each test runs `bash LAUNCHER --smoke` from a temporary directory, exactly as a user would, and asserts on the
metrics verl itself printed: the reward has variance (score mean strictly between 0 and 1), the update is real
(grad norm > 0), the rollout runs the weights the actor trained (rollout-vs-actor probability correlation, with
a negative control that disables weight sync), the reward's keys reach validation (`val-aux/...`), a checkpoint
is written per step. The tiny model (taught only the answer format) and the prepared sample are built once per
session and shared (tests/conftest.py).

Two rollouts: the paper run and the verl-hosted judge run on verl's own vLLM rollout (vLLM's CPU build: the code a
GPU user runs first); the other variants and the weight-sync control on `hf_cpu`, the CPU backend's HF rollout, at
half the time and memory. Resuming from a checkpoint is proven by the two-node run, whose second submission
resumes the first one's two ranks (tests/test_slurm.py, or tests/test_e2e_multinode.py where Slurm cannot run).
Not run end to end here, each a set of values the dry-run tests compose against verl's schema: run_wethink_7b.sh
(run_grpo.sh's twin) and run_judge_external.sh (the paper run's reward with other judge values: a judge without a
key is tests/test_judge.py's).
"""

from __future__ import annotations

import pytest

from tests.e2e import (
    JUDGE_KEY_ENV,
    MAX_PSS_GIB_VLLM,
    VLLM,
    STEPS,
    assert_checkpoints,
    assert_generated_by_vllm,
    assert_judge_reached_with_its_key,
    assert_ran,
    assert_trained_whole,
    assert_update_is_real,
    assert_weight_sync,
    assert_wethink_metrics_every_step_and_plot,
    has_learning_signal,
    patched_vllm_engines,
    report,
    run_smoke,
    smoke_env,
    training_steps,
)

pytestmark = pytest.mark.e2e


def test_the_update_check_fails_on_a_zero_gradient_with_signal_and_names_a_step_without_one():
    """Negative controls for the update assertions every run's steps go through (no trainer needed)."""
    signal = {"critic/advantages/max": 1.79, "critic/advantages/min": -0.45, "actor/grad_norm": 0.0}
    with pytest.raises(AssertionError, match="zero gradient"):
        assert_update_is_real(signal)
    assert_update_is_real({**signal, "actor/grad_norm": 0.09})
    alike = {"critic/advantages/max": 0.0, "critic/advantages/min": 0.0, "actor/grad_norm": 0.0}  # CI's step 1
    assert not has_learning_signal(alike)
    with pytest.raises(AssertionError, match="alike"):
        assert_update_is_real(alike)


def test_paper_run_on_vllm_end_to_end_with_the_loopback_judge(shared, judge, tmp_path):
    """The paper launcher's --smoke on verl's vLLM rollout: validates first, trains (weights synced into vLLM),
    reaches the judge, logs wethink/* every step and plots them."""
    env = smoke_env(shared, tmp_path, JUDGE_URL=judge.base_url, JUDGE_API_KEY_ENV=JUDGE_KEY_ENV)
    run = run_smoke("run_grpo.sh", VLLM, cwd=tmp_path, env=env)
    report(run, budget_gib=MAX_PSS_GIB_VLLM)
    assert_generated_by_vllm(run)
    assert_trained_whole(run)
    assert_judge_reached_with_its_key(run, judge)
    assert not (tmp_path / "outputs").exists(), "Hydra wrote outputs/ into the working directory"
    assert_wethink_metrics_every_step_and_plot(run, tmp_path)


def test_a_weight_sync_that_fails_inside_vllm_stops_the_run_instead_of_hanging(shared, tmp_path):
    """The negative control of the vLLM runs' weight sync: with vLLM's CPU layers dropping their weights (the
    CPU backend's patch off) the first sync fails inside vLLM; the run must stop by itself, naming it, well
    within the test's own limit (verl's sender alone would wait for ever)."""
    env = smoke_env(shared, tmp_path, WETHINK_VLLM_KEEP_WEIGHTS="0", WETHINK_WEIGHT_SYNC_TIMEOUT="15")
    run = run_smoke("run_grpo.sh", VLLM, "trainer.total_training_steps=1", "trainer.val_before_train=false",
                    cwd=tmp_path, env=env, timeout=420)  # fmt: skip
    report(run, budget_gib=MAX_PSS_GIB_VLLM)
    assert run.returncode not in (0, -9), f"rc {run.returncode} (-9: killed at the test's limit)\n{run.tail()}"
    assert "WeightSyncError" in run.output and "no acknowledgement for a bucket of weights within 15 s" in run.output
    assert "into parameter (torch.Size([0]))" in run.output  # vLLM's own error, the cause
    assert not training_steps(run)


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


def test_rule_only_variant_trains_end_to_end_and_never_reaches_a_judge(shared, judge, tmp_path):
    # Validation before training is proven by the paper run; here validation after each step carries val-aux.
    # 8 rollouts a prompt, not 5: on rule rows alone the tiny model answers most rollouts wrong, and a step whose
    # groups all score alike has no advantage (CI saw it: step 1 of 2 had none, a 0.0 gradient, rightly).
    run = run_smoke("recipes/wethink/run_rule_only.sh", "trainer.val_before_train=false",
                    "actor_rollout_ref.rollout.n=8", cwd=tmp_path,
                    env=smoke_env(shared, tmp_path, JUDGE_URL=judge.base_url, JUDGE_MODEL="judge"))  # fmt: skip
    report(run)
    assert_trained_whole(run, validated_first=False)
    assert run.steps[STEPS]["val-aux/wethink/route_model/mean@1"] == 0.0  # descriptive rows are dropped
    assert not judge.requests  # a judge it was given is never asked (the paper run's, at the same JUDGE_URL, is)


def test_judge_hosted_by_verl_on_vllm_trains_end_to_end(shared, tmp_path):
    """The verl-hosted judge variant with the judge served by verl through vLLM (the tiny model judges: expect
    unparseable verdicts); the policy on hf_cpu (the paper run covers it on vLLM). Both on vLLM work too but hold
    10.4 GiB: two engines of three processes each."""
    run = run_smoke("recipes/wethink/run_judge_colocated.sh", "reward.reward_model.rollout.name=vllm",
                    "trainer.val_before_train=false", cwd=tmp_path, env=smoke_env(shared, tmp_path))  # fmt: skip
    report(run, budget_gib=MAX_PSS_GIB_VLLM)
    assert "rollout: hf_cpu, judge rollout: vllm" in run.output
    assert "(vLLMHttpServer pid=" in run.output and "[hf_cpu] replica 0 (policy)" in run.output
    assert len(patched_vllm_engines(run)) == 1  # one engine: the judge's
    assert_trained_whole(run, validated_first=False)


def test_dapo_variant_filters_groups_with_nothing_to_learn_and_still_trains_full_batches(shared, tmp_path):
    """The tiny model knows the format, not the answers: a group whose gold it never writes (a descriptive
    answer, a number outside its few) scores alike in all 5 rollouts. Such groups are filtered out and refilled,
    and every step still trains on train_batch_size x n samples."""
    run = run_smoke("recipes/wethink/run_wethink_dapo.sh", "trainer.val_before_train=false", cwd=tmp_path,
                    env=smoke_env(shared, tmp_path))  # fmt: skip
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
