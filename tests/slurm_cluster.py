"""A real Slurm on this machine, for tests: munged, slurmctld and one slurmd per node (n1..n4), all on this host.

Debian's Slurm (22.05) runs several `slurmd` on one host (`slurmd -N NODE`, each node with its own port), so a
two-node allocation is real: `sbatch --nodelist=n1,n2` gets n1 and n2, `srun -w n2` runs on n2's slurmd. Four
nodes let a second two-node job (a negative control) run beside the first. Everything the
cluster writes (munge key and socket, slurm.conf, state, spool, logs) is in a temp dir of its own, its ports are
free ones, and its daemons run in sessions of their own that `stop()` ends (jobs are cancelled first).

What a single host cannot give: GPUs as GRES (the nodes declare none), and separate network stacks (every node
has this host's address). The nodes declare 8 CPUs each on 2 real cores (`SlurmdParameters=config_overrides`):
logical CPUs, as the Ray test clusters declare, for verl's TransferQueue actors that reserve one each.

A TaskProlog gives the tests a node whose Ray cannot join: with `SLURM_TEST_BROKEN_NODE=NODE` in a job's
environment, every task on NODE gets a Ray token that is not the cluster's (the head refuses it).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.ray_cluster import StoppedIfStartFails, signal_group, free_port

# A sample asks slurmctld for the job's state, lists its processes on every node and reads their memory (PSS): a
# few tenths of a second of CPU, twice for the two jobs at once; the actors it must see live for the whole run.
JOB_SAMPLE_S = 2.0

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "sinfo", "scancel", "scontrol")
NODES = ("n1", "n2", "n3", "n4")
CPUS_PER_NODE = 8
START_TIMEOUT_S = 60.0
# A job's states once its script has ended (COMPLETING: Slurm is still ending its steps; wait_until_gone follows).
ENDED = {"COMPLETED", "COMPLETING", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
         "DEADLINE", "PREEMPTED"}  # fmt: skip
_SBIN_PATH = f"{os.environ.get('PATH', '')}{os.pathsep}/usr/sbin{os.pathsep}/usr/bin"

TASK_PROLOG = """#!/bin/sh
# Tests only: a node whose Ray token is not the cluster's, named by the job's SLURM_TEST_BROKEN_NODE.
if [ -n "${SLURM_TEST_BROKEN_NODE:-}" ] && [ "$SLURMD_NODENAME" = "$SLURM_TEST_BROKEN_NODE" ]; then
  echo "export RAY_AUTH_TOKEN=not-the-clusters-token"
fi
"""


def missing_reason() -> str | None:
    """Why a local Slurm cannot be started here (None: it can)."""
    absent = [name for name in DAEMONS + CLIENTS if shutil.which(name, path=_SBIN_PATH) is None]
    if absent:
        return (f"Slurm is not installed here ({', '.join(absent)} not found); CI installs Debian's slurm-wlm and "
                "munge (.ci/run)")  # fmt: skip
    if os.geteuid() != 0:
        return "a local Slurm needs root (slurmd starts each job as its user); CI runs as root"
    return None


def _slurm_conf(root: Path, name: str, host: str, ctld_port: int, node_ports: dict[str, int]) -> str:
    nodes = "\n".join(f"NodeName={node} NodeHostname={host} NodeAddr=127.0.0.1 Port={port} CPUs={CPUS_PER_NODE} "
                      "State=UNKNOWN" for node, port in node_ports.items())  # fmt: skip
    return f"""ClusterName={name}
SlurmctldHost={host}
SlurmctldPort={ctld_port}
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge/socket
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool-%n
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd-%n.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd-%n.log
SlurmdParameters=config_overrides
TaskProlog={root}/task_prolog.sh
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
InactiveLimit=0
KillWait=5
{nodes}
PartitionName=test Nodes={",".join(node_ports)} Default=YES MaxTime=INFINITE State=UP
"""


@dataclass
class Job:
    job_id: str
    returncode: int
    output: str
    seconds: float
    peak_pss_gib: float
    processes: set[tuple[str, str]] = field(default_factory=set)  # (node, process title) seen while it ran


@dataclass
class LocalSlurm(StoppedIfStartFails):
    """`with LocalSlurm() as slurm:` then `slurm.run_job(sbatch_args, env, out)`; clients need `slurm.env`."""

    nodes: tuple[str, ...] = NODES
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="slurm-", dir="/tmp")))
    name: str = field(default_factory=lambda: f"t{os.getpid()}")
    daemons: list[subprocess.Popen] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.root / "slurm.conf")}

    def _command(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        env = {**os.environ, **self.env, "PATH": _SBIN_PATH}
        return subprocess.run(args, env=env, capture_output=True, text=True, **kwargs)

    def _daemon(self, *command: str) -> None:
        env = {**os.environ, **self.env, "PATH": _SBIN_PATH}
        log = open(self.root / "log" / f"{command[0]}-{len(self.daemons)}.out", "w")
        self.daemons.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True))  # fmt: skip
        log.close()

    def _start(self) -> None:
        root = self.root
        for sub in ("munge", "state", "log", *(f"spool-{n}" for n in self.nodes)):
            (root / sub).mkdir(mode=0o700)
        key = root / "munge" / "key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        (root / "task_prolog.sh").write_text(TASK_PROLOG)
        (root / "task_prolog.sh").chmod(0o755)
        host = self._command("hostname", "-s").stdout.strip()
        ports = {node: free_port() for node in self.nodes}
        (root / "slurm.conf").write_text(_slurm_conf(root, self.name, host, free_port(), ports))
        self._daemon("munged", "--foreground", "--force", f"--socket={root}/munge/socket", f"--key-file={key}",
                     f"--pid-file={root}/munge/pid", f"--log-file={root}/log/munged.log",
                     f"--seed-file={root}/munge/seed")  # fmt: skip
        self._wait("munged's socket", lambda: (root / "munge" / "socket").exists())
        self._daemon("slurmctld", "-D", "-i")
        for node in self.nodes:
            self._daemon("slurmd", "-D", "-N", node)
        self._wait(f"nodes {', '.join(self.nodes)} idle", self._all_idle)

    def _all_idle(self) -> bool:
        states = self._command("sinfo", "--noheader", "--Node", "--format=%N %t").stdout.split("\n")
        return sorted(line.split()[0] for line in states if line.endswith(" idle")) == sorted(self.nodes)

    def _wait(self, what: str, ready) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if ready():
                return
            if any(d.poll() is not None for d in self.daemons):
                break
            time.sleep(0.5)
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted((self.root / "log").iterdir()))
        raise RuntimeError(f"local Slurm: {what}: not after {START_TIMEOUT_S:.0f} s, or a daemon exited\n{logs}")

    def job_processes(self, job_id: str | None = None) -> dict[int, tuple[str, str]]:
        """{pid: (node, process title)} of every process running for this cluster's jobs (or one job): the
        environment Slurm gave its tasks says which cluster, job and node each belongs to."""
        found = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                environ = Path(f"/proc/{entry.name}/environ").read_bytes().split(b"\0")
                title = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            env = dict(item.decode(errors="replace").split("=", 1) for item in environ if b"=" in item)
            if env.get("SLURM_CLUSTER_NAME") == self.name and job_id in (None, env.get("SLURM_JOB_ID")):
                found[int(entry.name)] = (env.get("SLURMD_NODENAME", "?"), title)
        return found

    def _with_this_config(self) -> set[int]:
        """Every process started with this cluster's SLURM_CONF: its daemons, their slurmstepd, the jobs' processes."""
        conf = f"SLURM_CONF={self.root / 'slurm.conf'}".encode()
        found = set()
        for entry in os.scandir("/proc"):
            try:
                if entry.name.isdigit() and conf in Path(f"/proc/{entry.name}/environ").read_bytes().split(b"\0"):
                    found.add(int(entry.name))
            except OSError:
                continue
        return found

    def run_job(self, sbatch_args: list[str], env: dict[str, str], out: Path, timeout: float = 600) -> Job:
        """`sbatch` a job and follow it to its end (its exit status is the job's), sampling the memory (PSS) of all
        the job's processes on every node, and which processes ran on which node. Not `sbatch --wait`: that polls
        every 32 s once a job has run a while, half a minute of idle CI per job."""
        start = time.monotonic()
        full_env = {**env, **self.env, "PATH": f"{env.get('PATH', '')}{os.pathsep}/usr/sbin"}
        submitted = subprocess.run(["sbatch", "--parsable", f"--output={out}", *sbatch_args], env=full_env,
                                   capture_output=True, text=True)  # fmt: skip
        if submitted.returncode:
            return Job("", submitted.returncode, f"sbatch refused: {submitted.stdout}{submitted.stderr}", 0.0, 0.0)
        job_id = submitted.stdout.strip().split(";")[0]
        peak, seen = 0, set()
        while (state := self._job_state(job_id))[0] not in ENDED:
            processes = self.job_processes(job_id)
            seen.update(processes.values())
            peak = max(peak, sum(_pss_kib(pid) for pid in processes))
            if time.monotonic() - start > timeout:
                self._command("scancel", job_id)
                if time.monotonic() - start > timeout + 60:
                    break
            time.sleep(JOB_SAMPLE_S)
        output = out.read_text(errors="replace") if out.exists() else f"no job output ({state})"
        return Job(job_id, state[1], output, time.monotonic() - start, peak / 2**20, seen)

    def _job_state(self, job_id: str) -> tuple[str, int]:
        """(JobState, exit status: the script's, or 128 + the signal that ended it) from `scontrol show job`."""
        shown = self._command("scontrol", "--oneliner", "show", "job", job_id).stdout
        state = re.search(r"\bJobState=(\S+)", shown)
        code = re.search(r"\bExitCode=(\d+):(\d+)", shown)
        if not (state and code):  # a busy slurmctld's timeout (ended jobs are kept for MinJobAge, 300 s): ask again
            return "UNREAD", 1
        status, signal_number = int(code.group(1)), int(code.group(2))
        return state.group(1), status or (128 + signal_number if signal_number else 0)

    def wait_until_gone(self, job_id: str, timeout: float = 90) -> dict[int, tuple[str, str]]:
        """What is left of a finished job once Slurm has ended its steps (bounded: {} or what outlived it)."""
        deadline = time.monotonic() + timeout
        while (left := self.job_processes(job_id)) and time.monotonic() < deadline:
            time.sleep(1)
        return left

    def stop(self) -> None:
        if any(d.poll() is None for d in self.daemons):
            self._command("scancel", "--quiet", "--partition=test")
        for daemon in reversed(self.daemons):
            signal_group(daemon.pid, signal.SIGTERM)
        for daemon in reversed(self.daemons):
            try:
                daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                signal_group(daemon.pid, signal.SIGKILL)
                daemon.wait()
        # A job's process that outlived its slurmd (the test reports those), and a slurmstepd that did (seen when a
        # test failed mid-job: reparented to init, outside the daemons' sessions, its config naming this cluster).
        for pid in set(self.job_processes()) | self._with_this_config():
            _signal(pid, signal.SIGKILL)
        self.daemons.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
    except OSError:
        return 0


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
