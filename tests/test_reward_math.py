"""math-verify through the hard-deadline process pool, called from threads where its signal timeouts fail."""

import asyncio
import os
import signal
import threading
import time

import pytest

from rewards import math_equiv
from rewards.hard_pool import HardTimeout, HardTimeoutPool
from rewards.math_equiv import verify_math
from rewards.outcome import Reason

SETTINGS = dict(timeout=5.0, workers=2, rel_tol=1e-4)


@pytest.mark.parametrize(
    "answer, reference, acc",
    [
        ("\\frac{1}{2}", "0.5", 1.0),
        ("2\\sqrt{3}", "\\sqrt{12}", 1.0),
        ("(x+1)^2", "x^2+2x+1", 1.0),
        ("[0,1)", "[0, 1)", 1.0),
        ("x = 3", "3", 1.0),
        ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}", 0.0),
        ("\\pi/2", "90", 0.0),
        ("[-6, -1]", "[-6, -1)", 0.0),  # brackets carry meaning: no text normalisation on math
        ("( -6,-1 )", "(-6, -1)", 1.0),
    ],
)
async def test_math_equivalence(answer, reference, acc):
    outcome = await verify_math(answer, reference, **SETTINGS)
    assert outcome.acc == acc and not outcome.timeout


def test_runs_from_a_non_main_thread_where_math_verify_alone_cannot_time_out():
    """verl calls reward functions from executor and Ray actor threads: math-verify's signal.alarm fails there."""
    from math_verify import parse

    results = {}

    def in_thread():
        try:
            parse("$x^2$", parsing_timeout=5, raise_on_error=True)
            results["bare"] = "ok"
        except ValueError as exc:  # "signal only works in main thread"
            results["bare"] = f"fails: {exc}"
        results["ours"] = asyncio.run(verify_math("x^{2}", "x^2 + 0", **SETTINGS)).acc

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(60)
    assert results["bare"].startswith("fails")
    assert results["ours"] == 1.0


async def test_pathological_expression_times_out_scores_zero_and_the_pool_keeps_working():
    start = time.monotonic()
    outcome = await verify_math("9^{9^{9^{9}}}", "10", timeout=2.0, workers=2, rel_tol=1e-4)
    assert (outcome.acc, outcome.reason, outcome.timeout) == (0.0, Reason.MATH_TIMEOUT, True)
    assert time.monotonic() - start < 2.0 + 5.0  # deadline + a possible fresh pool start on this machine
    assert (await verify_math("2\\cdot 3", "6", **SETTINGS)).acc == 1.0


async def test_a_group_repeating_an_answer_costs_one_worker_call():
    """verl gathers a GRPO group's rollouts together: identical checks in flight share one call, later ones hit
    the memo."""
    pool = math_equiv.get_pool(2)
    submitted = []
    original = pool.run

    async def counting_run(*args, **kwargs):
        submitted.append(args)
        return await original(*args, **kwargs)

    pool.run = counting_run  # count calls into the real pool; it still does the work
    try:
        together = await asyncio.gather(*(verify_math("\\sqrt{49}", "7", **SETTINGS) for _ in range(8)))
        later = await verify_math("\\sqrt{49}", "7", **SETTINGS)
    finally:
        del pool.run
    assert all(o.acc == 1.0 for o in together) and later.acc == 1.0
    assert len(submitted) == 1


# --- the pool itself: a task past its deadline is stopped, its worker replaced, other workers untouched -----


def _block_signals_and_hang(seconds: float) -> str:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGINT, signal.SIGTERM, signal.SIGPROF})
    time.sleep(seconds)
    return "finished"


def _spin_ignoring_the_timer() -> None:
    """Like sympy stuck in one C call: burns CPU and never lets the worker's CPU timer interrupt it."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPROF})
    while True:
        pass


def _spin() -> None:
    while True:
        pass


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def pool():
    pool = HardTimeoutPool(2, wall_factor=2.0)
    yield pool
    pool.shutdown()


async def test_a_task_that_blocks_is_killed_at_the_wall_clock_cap_and_its_worker_replaced(pool):
    pids = set(await asyncio.gather(*(pool.run(_pid_after, 0.2, timeout=30) for _ in range(2))))
    start = time.monotonic()
    with pytest.raises(HardTimeout, match="wall time"):
        await pool.run(_block_signals_and_hang, 60.0, timeout=0.5)
    assert time.monotonic() - start < 0.5 * 2.0 + 2.0  # the cap (timeout x wall_factor) + polling slack
    assert pool.replacements == 1
    assert [pid for pid in pids if not _alive(pid)] != []  # a worker was really killed
    assert isinstance(await pool.run(_pid_after, 0.0, timeout=30), int)  # and the pool still works


async def test_a_task_stuck_burning_cpu_is_killed_at_its_cpu_budget_not_the_wall_cap():
    pool = HardTimeoutPool(1, wall_factor=100.0)
    try:
        await pool.run(_pid_after, 0.0, timeout=30)
        start = time.monotonic()
        with pytest.raises(HardTimeout, match="CPU s, past its budget"):
            await pool.run(_spin_ignoring_the_timer, timeout=0.5)
        assert time.monotonic() - start < 10.0  # far below the 50 s wall cap
        assert pool.replacements == 1
    finally:
        pool.shutdown()


async def test_a_task_that_honours_its_cpu_timer_stops_without_killing_the_worker(pool):
    pid = await pool.run(_pid_after, 0.0, timeout=30)
    with pytest.raises(HardTimeout, match="CPU budget"):
        await pool.run(_spin, timeout=0.3)
    assert pool.replacements == 0 and _alive(pid)


async def test_a_kill_leaves_the_other_workers_task_alone(pool):
    first = await asyncio.gather(*(pool.run(_pid_after, 0.2, timeout=30) for _ in range(2)))
    innocent = asyncio.create_task(pool.run(_pid_after, 1.5, timeout=30))
    await asyncio.sleep(0.1)
    with pytest.raises(HardTimeout):
        await pool.run(_block_signals_and_hang, 60.0, timeout=0.3)
    assert await innocent in first  # finished on its own worker, not resubmitted
    assert pool.replacements == 1


async def test_deadline_counts_running_time_not_queueing(pool):
    """8 tasks of 0.4 s on 2 workers take ~1.6 s in all; none may time out at a 1 s deadline (cap 2 s)."""
    await pool.run(_pid_after, 0.0, timeout=30)
    results = await asyncio.gather(*(pool.run(_pid_after, 0.4, timeout=1.0) for _ in range(8)))
    assert len(results) == 8 and pool.replacements == 0


async def test_a_task_the_worker_cannot_import_is_a_clear_error(pool):
    with pytest.raises(Exception, match="cannot|pickle|attribute"):
        await pool.run(lambda: 1, timeout=5)
