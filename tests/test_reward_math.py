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


# --- the pool itself: a task stuck where no signal reaches it is killed, the pool replaced ------------------


def _block_signals_and_hang(seconds: float) -> str:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGINT, signal.SIGTERM})
    time.sleep(seconds)
    return "finished"


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@pytest.fixture
def pool():
    pool = HardTimeoutPool(2)
    yield pool
    pool.shutdown()


async def test_hard_deadline_kills_a_stuck_worker_and_replaces_the_pool(pool):
    first_pid = await pool.run(_pid_after, 0.0, timeout=30)
    start = time.monotonic()
    with pytest.raises(HardTimeout):
        await pool.run(_block_signals_and_hang, 60.0, timeout=0.5)
    assert time.monotonic() - start < 5.0
    assert pool.replacements == 1
    new_pid = await pool.run(_pid_after, 0.0, timeout=30)
    assert new_pid != first_pid


async def test_an_innocent_task_killed_with_the_pool_is_resubmitted(pool):
    await pool.run(_pid_after, 0.0, timeout=30)  # warm
    innocent = asyncio.create_task(pool.run(_pid_after, 1.0, timeout=30))
    await asyncio.sleep(0.1)
    with pytest.raises(HardTimeout):
        await pool.run(_block_signals_and_hang, 60.0, timeout=0.3)
    assert isinstance(await innocent, int)  # ran again on the fresh pool
    assert pool.replacements == 1


async def test_deadline_counts_running_time_not_queueing(pool):
    """8 tasks of 0.4 s on 2 workers take ~1.6 s in all; none may time out at a 1 s deadline."""
    await pool.run(_pid_after, 0.0, timeout=30)
    results = await asyncio.gather(*(pool.run(_pid_after, 0.4, timeout=1.0) for _ in range(8)))
    assert len(results) == 8 and pool.replacements == 0
