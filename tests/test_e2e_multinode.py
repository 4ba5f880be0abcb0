"""Multi-node, for real: `RAY_ADDRESS=... bash run_grpo.sh --smoke` on a two-node Ray cluster on this machine.

A head and a second node are started with `ray start` (one logical GPU each, their own ports and temp dirs, token
auth with a token of their own) and torn down by the test, which stops only the processes it started. The nodes'
environment holds no judge key: it reaches the reward workers only through the job's runtime env, by the name
JUDGE_API_KEY_ENV gives, as on a real cluster where the key is exported only in the submitting shell. The run goes
through `ray job submit` (the job's working directory is Ray's own copy on each node), trains with FSDP over both
nodes, and a second submission resumes from the checkpoints of the first, found in the absolute CKPT_DIR.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Callable

import psutil
import pytest

from tests.e2e import (
    JUDGE_KEY,
    JUDGE_KEY_ENV,
    REPO,
    assert_checkpoints,
    assert_ran,
    assert_reward_has_variance,
    assert_update_is_real,
    assert_weight_sync,
    grading_judge,
    report,
    run_smoke,
    sessions_pss_gib,
    smoke_env,
)
from tests.openai_server import ChatServer, Reply
from tests.ray_cluster import LocalRayCluster
from tests.slurm_cluster import missing_reason as slurm_missing

# Where a local Slurm can run (CI), tests/test_slurm.py makes this same two-node run through the recipe's sbatch
# script, with the assertions below (`assert_two_node_runs`): one run of minutes, not two.
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(slurm_missing() is None, reason="covered by the Slurm run "
                                                  "(tests/test_slurm.py: the same two-node run through sbatch)")]

# verl's agent loop sends each prompt's group to one of the reward workers (one per node) picked at random. With
# every row judge-routed and 6 prompts per step over two steps, both nodes call the judge but with chance 2**-11.
PROMPTS_PER_STEP = 6
ONE_STEP_EACH = (f"data.train_batch_size={PROMPTS_PER_STEP}",
                 f"actor_rollout_ref.actor.ppo_mini_batch_size={PROMPTS_PER_STEP}",
                 "trainer.val_before_train=false", "trainer.test_freq=-1")  # fmt: skip
FIRST = (*ONE_STEP_EACH, "trainer.total_training_steps=1")
RESUMED = (*ONE_STEP_EACH, "trainer.total_training_steps=2", "trainer.resume_mode=auto")
PLACED_ON_EVERY_NODE = ("HFServer", "RewardLoopWorker", "WorkerDict")  # rollout servers, reward workers, FSDP actor


def judge_routed_sample(out: Path) -> Path:
    """The bundled sample with every row's `reward` set to the judge ("model"), prepared for verl."""
    from data_prep.wethink import prepare

    sample = REPO / "examples" / "sample"
    rows = [json.loads(line) for line in (sample / "wethink_sample.jsonl").read_text().splitlines() if line.strip()]
    jsonl = out / "judged.jsonl"
    jsonl.write_text("".join(json.dumps({**row, "reward": "model"}) + "\n" for row in rows))
    prepare(jsonl, sample / "images", out / "data", val_size=8, embed_images=True, progress=False)
    return out / "data"


class NodeRecordingJudge:
    """The grading judge, also recording which cluster node each request came from: the process holding the
    client end of the connection, found among the processes of each node's session."""

    def __init__(self, node_of_pid: Callable[[], dict[int, str]]):
        self.node_of_pid = node_of_pid
        self.nodes: list[str] = []
        self._lock = threading.Lock()
        self.server = ChatServer(self.reply)

    def reply(self, request: dict) -> Reply:
        port = self.server._httpd.server_address[1]
        clients = {c.pid for c in psutil.net_connections("tcp") if c.raddr and c.raddr.port == port and c.pid}
        where = self.node_of_pid()
        with self._lock:
            self.nodes.extend(where.get(pid, f"pid {pid} outside the cluster") for pid in clients)
        return grading_judge(request)


def test_two_node_cluster_submission_trains_checkpoints_absolutely_and_resumes(shared, tmp_path):
    node_env = {k: v for k, v in os.environ.items() if k not in (JUDGE_KEY_ENV, "RAY_ADDRESS", "JUDGE_URL")}
    node_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{node_env.get('PATH', '')}"  # python3 of the job
    with LocalRayCluster(node_env, nodes=2) as cluster:
        judge = NodeRecordingJudge(cluster.node_of_pid)
        with judge.server:
            env = smoke_env(
                shared, tmp_path, **cluster.auth_env, RAY_ADDRESS=cluster.dashboard_url, NNODES="2",
                JUDGE_URL=judge.server.base_url, JUDGE_API_KEY_ENV=JUDGE_KEY_ENV,
                DATA_DIR=str(judge_routed_sample(tmp_path)),
            )  # fmt: skip
            ray_nodes = tuple(node.session for node in cluster.started)
            idle_cluster_gib = sessions_pss_gib(ray_nodes)
            first = run_smoke("run_grpo.sh", *FIRST, cwd=tmp_path, env=env, also_measure=ray_nodes)
            report(first, idle_cluster_gib)
            assert_first_of_two(first)
            resumed = run_smoke("run_grpo.sh", *RESUMED, cwd=tmp_path, env=env, also_measure=ray_nodes)
            report(resumed, idle_cluster_gib)
            actors = cluster.list_actors()
            in_job_copies = [p for node in cluster.started for p in node.temp_dir.rglob("global_step_*")]

    placed = {cls: {a["node_id"] for a in actors if a["class_name"].endswith(cls)} for cls in PLACED_ON_EVERY_NODE}
    assert_two_node_runs(first, resumed, placed, judge, {"head", "node1"}, tmp_path)
    # Checkpoints only in CKPT_DIR: none in the job's working-directory copies (under each node's Ray temp dir,
    # where a relative path would have put them).
    assert not in_job_copies, in_job_copies


def assert_first_of_two(first) -> None:
    """The first submission, before the second one resumes (and moves the latest checkpoint on)."""
    assert "submitting to the cluster" in first.output and "Job 'raysubmit_" in first.output, first.tail()
    assert_ran(first, range(1, 2), validated_first=False)
    assert_checkpoints(first, range(1, 2))


def assert_two_node_runs(first, resumed, placed: dict[str, set], judge: NodeRecordingJudge, nodes: set[str],
                         cwd: Path) -> None:  # fmt: skip
    """What a two-node run (one step, then a resubmission resuming from its checkpoint) must show, whoever started
    the cluster: `placed` is {actor class: the nodes its actors ran on}, `nodes` the names of the two nodes."""
    assert_ran(resumed, range(2, 3), validated_first=False)  # step 2 only: step 1 came from the checkpoint
    assert_checkpoints(resumed, range(1, 3))
    for metrics in (first.steps[1], resumed.steps[2]):
        assert_reward_has_variance(metrics)
        assert_update_is_real(metrics)
        assert_weight_sync(metrics)  # weights reached the rollout servers on both nodes
    # Where verl put its workers: the rollout servers, the reward workers and the FSDP actor on both nodes.
    for cls, where in placed.items():
        assert len(where) == 2, f"{cls} actors on {sorted(where)}"
    # The judge: reached from both nodes, always with the key, which never reached the logs.
    assert judge.server.requests, "no request reached the loopback judge"
    assert all(h.get("Authorization") == f"Bearer {JUDGE_KEY}" for h in judge.server.headers)
    assert set(judge.nodes) == nodes, f"judge requests came from {sorted(set(judge.nodes))}"
    assert JUDGE_KEY not in first.output + resumed.output, "the judge key leaked into the logs"
    # Checkpoints only in the absolute CKPT_DIR: none in the launcher's cwd, and no Hydra output there either.
    assert not (cwd / "checkpoints").exists() and not (cwd / "outputs").exists()
