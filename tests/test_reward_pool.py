"""The math worker pool from the ways users call a reward, and on a saturated machine (issue 12, items 1 and 5).

Each call context runs in a real subprocess: a script fed on stdin (`python - < script.py`), `python -c`, and a
script without an `if __name__ == "__main__":` guard whose top-level code leaves a mark in a file each time it
runs. pytest is this process; the Ray actor context is in tests/test_reward_verl.py. A stock multiprocessing
pool run the same ways is the negative control: it shows each context really re-runs or fails on `__main__`.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rewards.hard_pool import HardTimeout, HardTimeoutPool
from rewards.math_equiv import EQUAL, verify_pair, warm_worker
from rewards.outcome import Reason

REPO = Path(__file__).resolve().parents[1]

SCORING_SCRIPT = """
import asyncio, json, os
with open(os.environ["MARK_FILE"], "a") as mark:  # top-level code: must run once, in this process only
    mark.write(f"{os.getpid()}\\n")
from rewards.hybrid import compute_score

async def scores():
    info = {"reward_method": "rule", "category": "math"}
    right = await compute_score("t", "<think>t</think><answer>\\\\frac{2}{4}</answer>", "0.5", info, math_timeout=0.5)
    wrong = await compute_score("t", "<think>t</think><answer>\\\\frac{3}{4}</answer>", "0.5", info, math_timeout=0.5)
    hog = await compute_score("t", "<think>t</think><answer>9^{9^{9^{9}}}</answer>", "10", info, math_timeout=0.5)
    return [right["acc"], wrong["acc"], hog["acc"], hog["reason"], hog["timeout"]]

print("RESULT", json.dumps(asyncio.run(scores())))
"""

STOCK_POOL_SCRIPT = """
import concurrent.futures, math, multiprocessing, os
with open(os.environ["MARK_FILE"], "a") as mark:
    mark.write(f"{os.getpid()}\\n")
with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver")) as pool:
    try:
        print("RESULT", pool.submit(math.sqrt, 4.0).result(timeout=60))
    except Exception as exc:
        print("RESULT", type(exc).__name__)
"""


def launch(context: str, script: str, tmp_path: Path, name: str) -> tuple[subprocess.Popen, Path]:
    """Start `script` the way `context` says, from a directory that is not the repository."""
    mark = tmp_path / f"{name}.marks"
    path = tmp_path / f"{name}.py"
    path.write_text(script)
    env = {**os.environ, "MARK_FILE": str(mark), "PYTHONPATH": str(REPO)}
    argv = {
        "stdin": [sys.executable, "-"],
        "dash_c": [sys.executable, "-c", script],
        "unguarded_script": [sys.executable, str(path)],
    }[context]
    stdin = path.open() if context == "stdin" else subprocess.DEVNULL
    process = subprocess.Popen(
        argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env
    )
    return process, mark


def finish(process: subprocess.Popen) -> tuple[str, str]:
    out, err = process.communicate(timeout=120)
    results = [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("RESULT ")]
    return (results[0] if results else f"no result (rc {process.returncode})"), err


CONTEXTS = ("stdin", "dash_c", "unguarded_script")


def test_scoring_is_right_and_side_effect_free_from_every_call_context(tmp_path):
    ours = {c: launch(c, SCORING_SCRIPT, tmp_path, f"ours_{c}") for c in CONTEXTS}
    stock = {c: launch(c, STOCK_POOL_SCRIPT, tmp_path, f"stock_{c}") for c in ("stdin", "unguarded_script")}
    for context, (process, mark) in ours.items():
        result, err = finish(process)
        right, wrong, hog_acc, hog_reason, hog_timeout = json.loads(result) if result[0] == "[" else [None] * 5
        assert (right, wrong) == (1.0, 0.0), (context, result, err[-2000:])
        assert (hog_acc, hog_reason, hog_timeout) == (0.0, Reason.MATH_TIMEOUT, 1), (context, result)
        assert len(mark.read_text().splitlines()) == 1, (context, "the caller's top-level code ran again")
        assert "Traceback" not in err, (context, err[-2000:])
    # Negative control: a stock multiprocessing pool in the same contexts fails on stdin and re-runs the script.
    stdin_result, stdin_err = finish(stock["stdin"][0])
    assert stdin_result == "BrokenProcessPool" and "<stdin>" in stdin_err
    finish(stock["unguarded_script"][0])
    assert len(stock["unguarded_script"][1].read_text().splitlines()) >= 2


# --- item 5: the deadline measures the check, not the machine ------------------------------------------------


def _burn(cpu_seconds: float) -> float:
    """A check that needs `cpu_seconds` of CPU; returns the wall time it took."""
    start_cpu, start_wall = time.process_time(), time.monotonic()
    while time.process_time() - start_cpu < cpu_seconds:
        pass
    return time.monotonic() - start_wall


class Saturated:
    """Three CPU-bound processes per available core, for a few seconds."""

    def __enter__(self):
        cores = len(os.sched_getaffinity(0))
        self.hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3 * cores)]
        time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        for hog in self.hogs:
            hog.kill()
        for hog in self.hogs:
            hog.wait()


class Stopped:
    """A worker that gets no CPU at all for `seconds` (SIGSTOP ... SIGCONT): the busiest machine there is, made
    deterministic. The task sent meanwhile waits in its socket and runs once the worker is let go."""

    def __init__(self, pid: int, seconds: float):
        self.pid, self.seconds = pid, seconds

    async def __aenter__(self):
        os.kill(self.pid, signal.SIGSTOP)
        return self

    async def __aexit__(self, *exc):
        try:
            os.kill(self.pid, signal.SIGCONT)
        except ProcessLookupError:  # the pool killed it meanwhile (the wall-clock control)
            pass


async def _run_starved(pool: HardTimeoutPool, pid: int, seconds: float, fn, *args, timeout: float):
    """fn(*args) in `pool`'s one worker, which is stopped for `seconds` of wall time first; (result, wall s)."""
    start = time.monotonic()
    async with Stopped(pid, seconds):
        task = asyncio.ensure_future(pool.run(fn, *args, timeout=timeout))
        await asyncio.sleep(seconds)
    return await task, time.monotonic() - start


async def test_a_right_answer_is_not_timed_out_by_a_saturated_machine():
    """What the pool guarantees under any load: a check's deadline is its own CPU time, so a right answer is
    never scored 0 because the worker got no CPU for longer than its budget, and an over-budget check still
    stops. Nothing here depends on how the scheduler shares the machine: the worker is starved by SIGSTOP for
    twice its budget, with CPU hogs running beside it too. The control: a pool whose cap is the budget in wall
    time (`wall_factor=1`) scores the same starved check as a timeout."""
    pool = HardTimeoutPool(1, initializer=warm_worker, wall_factor=100.0)
    wall_clock = HardTimeoutPool(1, initializer=warm_worker, wall_factor=1.0)
    try:
        pid = await pool.run(os.getpid, timeout=30)  # started and warm before the load
        wall_pid = await wall_clock.run(os.getpid, timeout=30)
        with Saturated():
            real, wall = await _run_starved(pool, pid, 2.0, verify_pair, "\\frac{x^2-1}{x+1}", "x-1", timeout=1.0)
            with pytest.raises(HardTimeout) as stopped:  # a check that needs more than its budget still stops
                await pool.run(_burn, 30.0, timeout=0.3)
            with pytest.raises(HardTimeout) as control:
                await _run_starved(wall_clock, wall_pid, 2.0, verify_pair, "\\frac{x^2-1}{x+1}", "x-1", timeout=1.0)
        assert real == EQUAL and wall >= 2.0  # right, though it took twice its budget in wall time
        assert stopped.value.cause == "cpu"
        assert control.value.cause == "wall"  # the control: a wall-clock deadline would have scored it 0
        assert await pool.run(verify_pair, "\\sqrt{4}", "2", timeout=30) == EQUAL  # and the pool still works
    finally:
        pool.shutdown()
        wall_clock.shutdown()


def test_no_worker_outlives_its_caller():
    """The workers end with the process that started them, even one killed (SIGKILL) without any cleanup."""
    script = (
        "import asyncio, os\n"
        "from rewards.math_equiv import get_pool, verify_math\n"
        "asyncio.run(verify_math('e^{0}', '1', timeout=5, workers=2, rel_tol=1e-4))\n"  # math-verify's: no cheap path
        "print(' '.join(str(w.process.pid) for w in get_pool(2)._all), flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    pids = [int(p) for p in run.stdout.split()]
    assert len(pids) == 2, run.stderr[-2000:]
    deadline = time.monotonic() + 60  # they end on their own within moments; 60 s only bounds a hang
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(pid) for pid in pids)


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
