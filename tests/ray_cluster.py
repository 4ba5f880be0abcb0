"""A real multi-node Ray cluster on one machine, for tests: a head and more nodes, each started with `ray start`.

Each node is started by its own `ray start` in a session (and process group) of its own, with its own temp dir and
its own ports (nothing shared with another Ray on the machine: the test may run beside other end-to-end runs).
`ray start` returns once its node is up (no `--block`: that would keep a ~120 MB CLI process per node alive); the
node's daemons and workers stay in its session, which is how they are found, measured and stopped. Stopping kills
exactly those process groups; `ray stop` is never used (it stops every Ray of the user on the machine).
Every node advertises one logical GPU, as verl's resource pools ask for GPUs per node. The cluster uses Ray's
token authentication with a token of its own (Ray 2.60 turns token auth on for a head that finds
~/.ray/auth_token, which any earlier local `ray.init()` writes, and off otherwise: stated, never left to chance);
whoever submits to it or reads its state needs `auth_env`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from recipes.wethink.smoke import LOCAL_RAY_ENV

START_TIMEOUT_S = 90.0
OBJECT_STORE_BYTES = 256 * 2**20  # enough for the smoke; Ray's default (30% of RAM per node) would be 2 x 7 GiB


# No idle workers started ahead of need or kept after it (about 60 MB each): this machine's memory is the tests'
# budget. An idle worker is stopped after Ray's idle threshold (1 s) instead of being pooled up to one per CPU.
NODE_SETTINGS = {**LOCAL_RAY_ENV, "RAY_num_workers_soft_limit": "0"}  # the smoke's local Ray's, and no pool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Node:
    name: str
    session: int  # the session (and process group) id of everything this node runs
    temp_dir: Path
    log: Path


class StoppedIfStartFails:
    """A test cluster as a context manager: `_start()` on entry (if it fails, what it started is stopped), `stop()`
    on exit."""

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class LocalRayCluster(StoppedIfStartFails):
    """`with LocalRayCluster(env, nodes=2) as cluster:` then `cluster.dashboard_url` is the RAY_ADDRESS of a job."""

    env: dict[str, str]
    nodes: int = 2
    cpus_per_node: int = 8  # logical: verl's TransferQueue actors reserve a CPU each
    gpus_per_node: int = 1  # logical
    gcs_port: int = field(default_factory=free_port)
    dashboard_port: int = field(default_factory=free_port)
    started: list[Node] = field(default_factory=list)
    token: str = field(default_factory=secrets.token_hex)

    @property
    def auth_env(self) -> dict[str, str]:
        """What a client of this cluster (ray job submit, a worker, the state API) needs in its environment."""
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token}

    def _get(self, path: str, **params) -> list[dict]:
        headers = {"Authorization": f"Bearer {self.token}"}
        response = httpx.get(f"{self.dashboard_url}{path}", params=params, headers=headers, timeout=10)
        response.raise_for_status()
        return response.json()["data"]["result"]["result"]

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def _start(self) -> None:
        self._start_node("head", ["--head", f"--port={self.gcs_port}", "--include-dashboard=true",
                                  "--dashboard-host=127.0.0.1", f"--dashboard-port={self.dashboard_port}",
                                  f"--ray-client-server-port={free_port()}",
                                  "--no-monitor"])  # no autoscaler monitor (~50 MB): a fixed cluster  # fmt: skip
        for i in range(1, self.nodes):
            self._start_node(f"node{i}", [f"--address=127.0.0.1:{self.gcs_port}"])
        self._wait_for_nodes()

    def _start_node(self, name: str, role: list[str]) -> None:
        temp_dir = Path(tempfile.mkdtemp(prefix=f"ray-{name}-", dir="/tmp"))  # short: Ray's socket paths are limited
        log = temp_dir / "ray-start.log"
        ray = Path(sys.executable).with_name("ray")
        command = [
            str(ray), "start", *role, "--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}",
            f"--num-cpus={self.cpus_per_node}", f"--num-gpus={self.gpus_per_node}",
            f"--object-store-memory={OBJECT_STORE_BYTES}", "--disable-usage-stats",
            f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}", f"--metrics-export-port={free_port()}",
        ]  # fmt: skip
        with open(log, "w") as out:
            env = {k: v for k, v in self.env.items() if not k.startswith("RAY_AUTH")} | self.auth_env | NODE_SETTINGS
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # fmt: skip
        node = Node(name, process.pid, temp_dir, log)
        self.started.append(node)  # before waiting: stop() cleans up whatever it started
        try:
            returncode = process.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            returncode = None
        if returncode != 0:
            raise RuntimeError(f"ray start ({name}) {'timed out' if returncode is None else f'exited {returncode}'}:"
                               f"\n{log.read_text()[-3000:]}")

    def alive_nodes(self) -> list[dict]:
        """The cluster's alive nodes as its dashboard reports them (Ray's state API)."""
        return [n for n in self._get("/api/v0/nodes", limit=100) if n.get("state") == "ALIVE"]

    def _wait_for_nodes(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        seen: object = None
        while time.monotonic() < deadline:
            try:
                seen = len(self.alive_nodes())
                if seen == self.nodes:
                    return
            except httpx.HTTPError as exc:
                seen = exc
            time.sleep(1)
        raise TimeoutError(f"{self.nodes} Ray nodes not up after {START_TIMEOUT_S:.0f} s (last seen: {seen})")

    def node_of_pid(self) -> dict[int, str]:
        """{pid: node name} for every process each node runs (its daemons and Ray's workers)."""
        from tests.e2e import session_pids

        return {pid: node.name for node in self.started for pid in session_pids(node.session)}

    def list_actors(self) -> list[dict]:
        """Every actor the cluster has had (dead ones of finished jobs included), with node_id and class_name."""
        return self._get("/api/v0/actors", limit=10000, detail=1)

    def stop(self) -> None:
        for node in reversed(self.started):
            signal_group(node.session, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(session_alive(n.session) for n in self.started):
            time.sleep(0.2)
        for node in reversed(self.started):
            signal_group(node.session, signal.SIGKILL)  # whatever ignored SIGTERM, in this group only
            shutil.rmtree(node.temp_dir, ignore_errors=True)
        self.started.clear()


def session_alive(session: int) -> bool:
    from tests.e2e import session_pids

    return bool(session_pids(session))


def signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass
