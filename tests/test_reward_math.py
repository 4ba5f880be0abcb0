"""math-verify through the hard-deadline process pool, called from threads where its signal timeouts fail."""

import asyncio
import os
import signal
import threading
import time

import pytest

from rewards import math_equiv, pool_worker
from rewards.hard_pool import WALL_FACTOR, HardTimeout, HardTimeoutPool
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
    # Bounded by construction, whatever the machine's load: each lane's wall-clock cap, plus worker start-ups.
    assert time.monotonic() - start < (math_equiv.FAST_LANE_SECONDS + 2.0) * WALL_FACTOR + 60
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
        # Euler's number: no cheap in-process path (rewards.math_fast) decides it, so math-verify must
        together = await asyncio.gather(*(verify_math("e^{0}", "1", **SETTINGS) for _ in range(8)))
        later = await verify_math("e^{0}", "1", **SETTINGS)
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


def _spin_until_cpu(cpu_seconds: float) -> str:
    start = time.process_time()
    while time.process_time() - start < cpu_seconds:
        pass
    return "finished"


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
    assert time.monotonic() - start < 60.0  # stopped at its cap, never left to finish its 60 s (a hang bound)
    assert pool.replacements == 1
    assert [pid for pid in pids if not _alive(pid)] != []  # a worker was really killed
    assert isinstance(await pool.run(_pid_after, 0.0, timeout=30), int)  # and the pool still works


async def test_a_task_stuck_burning_cpu_is_killed_at_its_cpu_budget_not_the_wall_cap():
    pool = HardTimeoutPool(1, wall_factor=100.0)
    try:
        await pool.run(_pid_after, 0.0, timeout=30)
        with pytest.raises(HardTimeout, match="CPU s, past its budget") as stopped:  # not the 50 s wall cap
            await pool.run(_spin_ignoring_the_timer, timeout=0.5)
        assert stopped.value.cause == "cpu" and pool.replacements == 1
    finally:
        pool.shutdown()


def test_a_task_that_honours_its_cpu_timer_stops_without_killing_the_worker():
    """The worker's own CPU timer ends the task and the worker answers (it lives on). Run here, in this
    process, as the worker runs a task: CPU time only, so no load can change the answer. The control: the same
    task without a budget (timer off) runs to its end."""
    previous = signal.signal(signal.SIGPROF, pool_worker._on_budget)
    try:
        assert pool_worker._run_one((_spin_until_cpu, (0.6,), 0.3)) == ("cpu_timeout", 0.3)
        assert pool_worker._run_one((_spin_until_cpu, (0.6,), 0)) == ("ok", "finished")  # the control
        assert pool_worker._run_one((_pid_after, (0.0,), 0.3)) == ("ok", os.getpid())  # the same worker goes on
    finally:
        signal.signal(signal.SIGPROF, previous)


async def test_a_task_past_its_cpu_budget_stops_and_the_pool_keeps_working():
    """Through the pool, under any load: the task ends as a CPU timeout (by its own timer or, if the machine
    delays the reply past the grace, by a kill) and the next task runs; whether the worker was kept is timing."""
    pool = HardTimeoutPool(1, wall_factor=100.0)  # a loaded machine must not reach the wall cap first
    try:
        await pool.run(_pid_after, 0.0, timeout=30)
        with pytest.raises(HardTimeout) as stopped:
            await pool.run(_spin, timeout=0.3)
        assert stopped.value.cause == "cpu"
        assert isinstance(await pool.run(_pid_after, 0.0, timeout=30), int)
    finally:
        pool.shutdown()


async def test_a_kill_leaves_the_other_workers_task_alone(pool):
    first = await asyncio.gather(*(pool.run(_pid_after, 0.2, timeout=30) for _ in range(2)))
    innocent = asyncio.create_task(pool.run(_pid_after, 1.5, timeout=30))
    await asyncio.sleep(0.1)
    with pytest.raises(HardTimeout):
        await pool.run(_block_signals_and_hang, 60.0, timeout=0.3)
    assert await innocent in first  # finished on its own worker, not resubmitted
    assert pool.replacements == 1


async def test_deadline_counts_running_time_not_queueing():
    """A task queued behind another for 3 s is not stopped at its 2 s wall-clock cap: the cap starts when the task
    reaches a worker. The task itself does nothing, so no load brings it near its cap."""
    pool = HardTimeoutPool(1, wall_factor=2.0)
    try:
        await pool.run(_pid_after, 0.0, timeout=30)
        ahead = asyncio.ensure_future(pool.run(_pid_after, 3.0, timeout=30))
        queued = asyncio.ensure_future(pool.run(_pid_after, 0.0, timeout=1.0))
        start = time.monotonic()
        assert isinstance(await queued, int) and isinstance(await ahead, int)  # it ran, and was not stopped
        assert time.monotonic() - start >= 2.0  # the control: it waited longer than its cap, all in the queue
        assert pool.replacements == 0
    finally:
        pool.shutdown()


async def test_a_task_the_worker_cannot_import_is_a_clear_error(pool):
    with pytest.raises(Exception, match="cannot|pickle|attribute"):
        await pool.run(lambda: 1, timeout=5)


# --- memory per worker, no head-of-line blocking, bounded caches (issue 26) ----------------------------------

BOMB = "(x+1)^{99999999}"  # sympy expands it: GBs within seconds (2.5 GB in one worker, before)


def _address_space_cap(pid: int) -> str:
    """The soft RLIMIT_AS of a process, as /proc shows it ("unlimited" or bytes)."""
    with open(f"/proc/{pid}/limits") as fh:
        return next(line for line in fh if line.startswith("Max address space")).split()[3]


def _vm_peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmPeak:")) / 1024


async def test_a_memory_bomb_stops_at_the_workers_cap_and_its_worker_is_replaced():
    capped = HardTimeoutPool(1, initializer=math_equiv.warm_worker, memory_mb=256, wall_factor=100.0)
    free = HardTimeoutPool(1, initializer=math_equiv.warm_worker, wall_factor=100.0)
    try:
        pid = await capped.run(_pid_after, 0.0, timeout=30)
        assert _address_space_cap(pid) != "unlimited"
        with pytest.raises(HardTimeout) as stopped:
            await capped.run(math_equiv.verify_pair, BOMB, "1", timeout=20.0)
        assert stopped.value.cause == "memory" and capped.replacements == 1 and not _alive(pid)
        assert await capped.run(math_equiv.verify_pair, "\\frac{1}{2}", "0.5", timeout=5.0) == math_equiv.EQUAL
        # The control: without the cap the same check grows past it within a second of CPU.
        free_pid = await free.run(_pid_after, 0.0, timeout=30)
        with pytest.raises(HardTimeout):
            await free.run(math_equiv.verify_pair, BOMB, "1", timeout=1.0)
        assert _vm_peak_mb(free_pid) > 256 + 100
    finally:
        capped.shutdown()
        free.shutdown()


async def test_the_reward_scores_a_memory_bomb_as_a_timeout_within_the_cap():
    outcome = await verify_math(BOMB, "1", **SETTINGS)
    assert (outcome.acc, outcome.reason, outcome.timeout) == (0.0, Reason.MATH_TIMEOUT, True)
    ready = [w for pool in math_equiv._lanes(2) for w in list(pool._all) if w.ready and w.process.poll() is None]
    assert ready and all(_address_space_cap(w.process.pid) != "unlimited" for w in ready)  # capped once started


def _spin_honouring_the_timer() -> None:
    while True:
        pass


async def _all_busy(pool: HardTimeoutPool) -> None:
    """Until every worker of `pool` holds a task (the bombs were queued first, whatever the machine's load); the
    bombs hold them for at least half a CPU second, and 60 s only bounds a hang."""
    deadline = time.monotonic() + 60
    while pool._idle.qsize() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


async def _finish_order(run_bomb, run_ordinary, bombs: int, ordinary: int, pool: HardTimeoutPool) -> list[str]:
    order: list[str] = []

    async def bomb():
        with pytest.raises(HardTimeout):
            await run_bomb()
        order.append("bomb")

    async def plain():
        await run_ordinary()
        order.append("ordinary")

    tasks = [asyncio.create_task(bomb()) for _ in range(bombs)]
    await _all_busy(pool)
    await asyncio.gather(*tasks, *(plain() for _ in range(ordinary)))
    return order


async def test_ordinary_checks_are_not_held_behind_bombs():
    """Checks that need more than FAST_LANE_SECONDS run again in the slow lane: ordinary ones queued behind them
    wait for at most their fast-lane budget. The control is one lane, as before: they wait for the bombs."""
    budget = 1.5
    await math_equiv.run_in_lanes(_pid_after, 0.0, timeout=30, workers=2)  # both lanes started
    order = await _finish_order(
        lambda: math_equiv.run_in_lanes(_spin_honouring_the_timer, timeout=budget, workers=2),
        lambda: math_equiv.run_in_lanes(_pid_after, 0.0, timeout=budget, workers=2),
        bombs=2, ordinary=6, pool=math_equiv.get_pool(2),
    )  # fmt: skip
    assert order[:6] == ["ordinary"] * 6, order
    one_lane = HardTimeoutPool(2, wall_factor=100.0)
    try:
        await asyncio.gather(*(one_lane.run(_pid_after, 0.0, timeout=30) for _ in range(2)))
        before = await _finish_order(
            lambda: one_lane.run(_spin_honouring_the_timer, timeout=budget),
            lambda: one_lane.run(_pid_after, 0.0, timeout=budget),
            bombs=2, ordinary=6, pool=one_lane,
        )  # fmt: skip
    finally:
        one_lane.shutdown()
    assert before[0] == "bomb", before  # the ordinary checks waited for a whole budget


def _exit_now() -> None:
    os._exit(3)


async def test_a_task_that_kills_its_worker_is_a_timeout_and_is_not_run_again(pool):
    """It may well be what killed the worker: running it again would cost a second worker."""
    with pytest.raises(HardTimeout, match="died under it") as stopped:
        await pool.run(_exit_now, timeout=5.0)
    assert stopped.value.cause == "died" and pool.replacements == 1
    assert isinstance(await pool.run(_pid_after, 0.0, timeout=30), int)


def test_the_caches_hold_digests_and_references_not_answers():
    """Distinct long answers to one reference: the worker memoises the reference's parse only, and the verdict
    memo keys on a 16-byte digest, so neither grows with what the policy writes."""
    math_equiv._parse_reference.cache_clear()
    for i in range(20):
        math_equiv.verify_pair(f"x^{{{i}}} + " + "y + " * 200 + "1", "x + 1")
    assert math_equiv._parse_reference.cache_info().currsize == 1
    long_reference = "x + " * 400 + "1"
    math_equiv.verify_pair("x", long_reference)
    assert math_equiv._parse_reference.cache_info().currsize == 1  # a reference too long to memoise
    key = math_equiv._pair_key("a" * 10_000, "b")
    assert isinstance(key, bytes) and len(key) == 16
    assert math_equiv._pair_key("ab", "c") != math_equiv._pair_key("a", "bc")
