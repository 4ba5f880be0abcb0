"""The recipe's Slurm script on a real Slurm: `sbatch recipes/wethink/slurm_wethink_7b.sbatch --smoke ...`.

A local Slurm (tests/slurm_cluster.py: munged, slurmctld, a slurmd for each of four nodes on this host) runs the
project's own script, unchanged, with CPU values given as sbatch options and the script's documented variables:
`--cpus-per-task=8 --gpus-per-node=0` (the nodes have no GPU GRES), GPUS_PER_NODE=1 (logical Ray GPUs),
RAY_PORT / DASHBOARD_PORT / DASHBOARD_AGENT_PORT (free ones: other Rays run on this host), REPO_ROOT. The script
starts Ray's head on the first node and a worker on the second with `srun`, waits for both, and hands `--smoke` to
run_grpo.sh with RAY_ADDRESS and NNODES.

This is the two-node run of tests/test_e2e_multinode.py (which skips where this runs) with its assertions: one step,
then a second sbatch resuming from the checkpoint, the FSDP actor, rollout servers and reward workers on both
nodes, the judge reached from both. Ray's token auth is on with a token of the test's own (passed through sbatch's
environment, as a user would export it).

Negative control, on two other nodes beside the first job (4 nodes in all, so it costs no wall time of its own): a
job whose worker cannot join (its node's Ray token is not the head's) fails within RAY_START_TIMEOUT with the
script's error line, and no process of any job outlives it.
"""

from __future__ import annotations

import re
import secrets
import threading
from pathlib import Path

import pytest

from tests.e2e import JUDGE_KEY_ENV, REPO, SmokeRun, parse_step_metrics, report, smoke_env
from tests.ray_cluster import NODE_SETTINGS, free_port
from tests.slurm_cluster import CPUS_PER_NODE, Job, LocalSlurm, missing_reason
from tests.test_e2e_multinode import (
    FIRST,
    PLACED_ON_EVERY_NODE,
    RESUMED,
    NodeRecordingJudge,
    assert_first_of_two,
    assert_two_node_runs,
    judge_routed_sample,
)

SKIP = missing_reason()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]

SCRIPT = REPO / "recipes" / "wethink" / "slurm_wethink_7b.sbatch"
SBATCH_CPU = [f"--cpus-per-task={CPUS_PER_NODE}", "--gpus-per-node=0"]  # the script's #SBATCH lines ask for GPUs
MAX_JOB_PSS_GIB = 10.0  # the whole allocation: both nodes' Ray daemons, the launcher and the run
NEGATIVE_START_TIMEOUT = 90  # generous (the head must be up first on a busy machine); n2 gives up in ~20 s


def job_env(env: dict[str, str], **extra: str) -> dict[str, str]:
    """What the job gets through sbatch's environment: the script's documented variables with CPU values, a Ray
    token of the test's own, and no Ray worker started ahead of need (memory: tests/ray_cluster.py)."""
    ports = {name: str(free_port()) for name in ("RAY_PORT", "DASHBOARD_PORT", "DASHBOARD_AGENT_PORT")}
    return {**env, **NODE_SETTINGS, **ports, "REPO_ROOT": str(REPO), "GPUS_PER_NODE": "1", "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(), **extra}  # fmt: skip


def as_smoke_run(job: Job, ckpt: Path) -> SmokeRun:
    return SmokeRun(SCRIPT.name, job.returncode, job.output, job.seconds, job.peak_pss_gib, ckpt,
                    parse_step_metrics(job.output))  # fmt: skip


def assert_on_both_nodes(job: Job) -> None:
    """The job's output names the nodes and Ray's node count."""
    assert re.search(r"^slurm: job \d+, 2 node\(s\): n1 n2; Ray head on n1 at ", job.output, re.M), job.output[-4000:]
    assert "ray: 2 of 2 nodes up" in job.output, job.output[-4000:]


def test_slurm_two_node_sbatch_of_the_recipe_script_trains_resumes_and_fails_fast(shared, tmp_path):
    with LocalSlurm() as slurm:
        # Negative control, on n3 + n4 while the first job runs on n1 + n2: n4's Ray cannot join (a token the head
        # refuses), so the script stops at its bounded wait.
        env = job_env(smoke_env(shared, tmp_path), RAY_START_TIMEOUT=str(NEGATIVE_START_TIMEOUT),
                      SLURM_TEST_BROKEN_NODE="n4")  # fmt: skip
        negative: list[Job] = []
        refused_args = ["--nodelist=n3,n4", *SBATCH_CPU, str(SCRIPT), "--smoke"]
        control = threading.Thread(target=lambda: negative.append(slurm.run_job(refused_args, env, tmp_path / "refused.out")),
                                   daemon=True)  # fmt: skip
        control.start()

        # The two-node run: one step, then a second job that resumes from its checkpoint.
        judge = NodeRecordingJudge(lambda: {pid: node for pid, (node, _) in slurm.job_processes().items()})
        with judge.server:
            env = smoke_env(shared, tmp_path, JUDGE_URL=judge.server.base_url, JUDGE_API_KEY_ENV=JUDGE_KEY_ENV,
                            DATA_DIR=str(judge_routed_sample(tmp_path)))  # fmt: skip
            jobs = []
            for name, overrides in (("first", FIRST), ("resumed", RESUMED)):
                job = slurm.run_job(["--nodelist=n1,n2", *SBATCH_CPU, f"--chdir={tmp_path}", str(SCRIPT), "--smoke",
                                     *overrides], job_env(env), tmp_path / f"{name}.out")  # fmt: skip
                jobs.append(job)
                run = as_smoke_run(job, Path(env["CKPT_DIR"]))
                report(run, budget_gib=MAX_JOB_PSS_GIB)
                assert_on_both_nodes(job)
                if name == "first":
                    assert_first_of_two(run)
                assert not slurm.wait_until_gone(job.job_id), f"processes of job {job.job_id} outlived it"
        control.join()
        assert_refused(negative[0], slurm.wait_until_gone(negative[0].job_id))
    first, resumed = (as_smoke_run(job, Path(env["CKPT_DIR"])) for job in jobs)
    placed = {cls: {node for job in jobs for node, title in job.processes if actor_class(title).endswith(cls)}
              for cls in PLACED_ON_EVERY_NODE}  # fmt: skip
    assert_two_node_runs(first, resumed, placed, judge, {"n1", "n2"}, tmp_path)
    # Checkpoints only in CKPT_DIR: none in the job's working-directory copy in the head's Ray session.
    for job in jobs:
        session = re.search(r"(/tmp/ray/session_[\d_-]+)/", job.output)
        assert session, "no Ray session dir in the job's output"
        assert not list(Path(session.group(1)).rglob("global_step_*"))


def assert_refused(refused: Job, left_behind: dict) -> None:
    print(f"\n[slurm] negative control: {refused.seconds:.0f} s wall, rc {refused.returncode}")
    assert refused.returncode != 0, refused.output[-4000:]
    assert re.search(r"^error: ray: .*only 1 of 2 nodes up", refused.output, re.M), refused.output[-4000:]
    assert "InvalidAuthToken" in refused.output  # n4 really tried and was refused
    assert "submitting to the cluster" not in refused.output  # run_grpo.sh never started
    assert not left_behind, f"processes of job {refused.job_id} left behind: {left_behind}"


def actor_class(title: str) -> str:
    """`ray::WorkerDict.init_model` -> `WorkerDict` (a Ray actor's process title); other titles -> ''."""
    return title.removeprefix("ray::").split(".")[0].split()[0] if title.startswith("ray::") else ""
