"""Running a launcher's `--smoke` as a user does, and reading verl's own metrics back from what it printed.

verl's console logger prints one line per step, `step:N - key:value - key:value ...` (values may be written
as `np.float64(0.5)`), through Ray's log forwarding. The end-to-end tests assert on those numbers.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
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


def _tree_pids(root_pid: int) -> list[int]:
    """A process and all its descendants (Ray's daemons and actors included)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _tree_pss_kib(root_pid: int) -> int:
    """Proportional set size of the whole process tree: shared pages (torch, CUDA libraries mapped by every
    actor) counted once in total, not once per process as summed RSS would."""
    total = 0
    for pid in _tree_pids(root_pid):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def run_smoke(launcher: str, *overrides: str, cwd: Path, env: dict[str, str], timeout: float = 480) -> SmokeRun:
    """`bash LAUNCHER --smoke OVERRIDES` from `cwd`, sampling the memory (PSS) of its whole process tree."""
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
                peak = max(peak, _tree_pss_kib(proc.pid))
                if time.monotonic() - start > timeout:
                    proc.kill()
                    break
                time.sleep(0.5)
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
