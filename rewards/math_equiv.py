"""Math equivalence with math-verify, run in a hard-deadline process pool.

Cheap cases never leave the process: identical text, two plain numbers, or numbers, short expressions, one
relation or an interval that `rewards.math_fast` decides by evaluation. The rest goes to a worker process
(`rewards.hard_pool`), which bounds the check by CPU time and kills it if it ignores that bound. A GRPO group
often repeats the same final answer, so verdicts are memoised per process and concurrent identical checks
share one worker call.

Two lanes, so that a few pathological answers (sympy bombs such as `(x+1)^{99999999}`) never hold ordinary ones
behind them: every check runs first in the fast lane with FAST_LANE_SECONDS of CPU, which ordinary answers need a
small part of; a check that needs more runs again, with the whole `math_timeout`, in the slow lane's own workers.
An ordinary answer so waits at most for the fast-lane checks queued before it, each stopped at FAST_LANE_SECONDS.
Each worker's memory is capped at WORKER_MEMORY_MB over its start-up size; a check that reaches the cap scores as
a timeout and its worker is replaced (never retried in the slow lane: more CPU would not give it more memory).
Bounded memory in this process too: verdicts are memoised by a digest of the pair (not the texts), the worker
memoises parsed references only, and only short ones.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from cachetools import LRUCache

from rewards.hard_pool import HardTimeout, HardTimeoutPool, PoolUnavailable
from rewards.inflight import InFlight
from rewards.math_fast import quick_verdict
from rewards.numeric import Number, numbers_match, parse_number
from rewards.outcome import Outcome, Reason

logger = logging.getLogger(__name__)

EQUAL, DIFFERENT, UNPARSEABLE, TIMEOUT = "equal", "different", "unparseable", "timeout"
MATH_ERROR = "error"  # the pool could not run the check (parent side only)
_DELIMITED = ("$", "\\(", "\\[", "\\boxed")
FAST_LANE_SECONDS = 0.5  # CPU: math-verify on an ordinary answer takes milliseconds
WORKER_MEMORY_MB = 512  # address space per worker over its start-up size (~75 MB with math-verify loaded)
_MEMO_MAX_CHARS = 1000  # a reference longer than this is parsed afresh each time
_NOISE = re.compile(r"\s+|\$|\\left|\\right|\\[,;:! ]")


def _as_latex(text: str) -> str:
    """math-verify extracts LaTeX from delimited spans; a bare reference like `\\frac{1}{2}` needs `$...$`."""
    return text if any(d in text for d in _DELIMITED) else f"${text}$"


def _parse(text: str) -> tuple:
    from math_verify import parse

    return tuple(parse(_as_latex(text), parsing_timeout=None, raise_on_error=True))


@functools.lru_cache(maxsize=256)
def _parse_reference(text: str) -> tuple:
    """Worker side, memoised: a reference is parsed once for all the answers a GRPO group gives to it. Answers are
    not memoised here (this process memoises their verdicts), so what the cache holds is data-sized, not
    policy-sized."""
    return _parse(text)


def verify_pair(answer: str, reference: str) -> str:
    """Worker side: EQUAL / DIFFERENT / UNPARSEABLE for one (answer, reference) pair.

    math-verify's own timeouts are off: they are wall-clock alarms (a busy machine would fire them on right
    answers); the pool bounds the whole check by CPU time instead.
    """
    from math_verify import verify

    try:
        gold = _parse_reference(reference) if len(reference) <= _MEMO_MAX_CHARS else _parse(reference)
        pred = _parse(answer)
        if not gold or not pred:
            return UNPARSEABLE
        if verify(list(gold), list(pred), timeout_seconds=None, raise_on_error=True):
            return EQUAL
        return EQUAL if _equal_as_complex(gold[0], pred[0]) else DIFFERENT
    except MemoryError:  # the worker's memory cap: the pool scores it as a timeout and replaces the worker
        raise
    except Exception:  # math-verify's parser raises a zoo of types on malformed LaTeX
        return UNPARSEABLE


def _equal_as_complex(gold: Any, pred: Any) -> bool:
    """`(1+i)(2-i)` is `3+i`: math-verify reads `i` as a variable, so a product and its expansion differ by an
    `i^2`. When `i` is the only symbol on either side, both are read with `i` as the imaginary unit."""
    import sympy

    exprs = (gold, pred)
    if not all(isinstance(e, sympy.Expr) for e in exprs):
        return False
    symbols = gold.free_symbols | pred.free_symbols  # math-verify's `i` may carry assumptions: matched by name
    if not symbols or any(s.name != "i" for s in symbols):
        return False
    unit = {s: sympy.I for s in symbols}
    return sympy.expand(gold.subs(unit) - pred.subs(unit)) == 0


def warm_worker() -> None:
    """Pool initializer: quiet math-verify's own timeout logging, and pay its first-call costs before any deadline."""
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    verify_pair("\\frac{x^2-1}{x+1}", "x - 1")


_pool: HardTimeoutPool | None = None
_slow_pool: HardTimeoutPool | None = None
_pool_lock = threading.Lock()
_verdicts: LRUCache = LRUCache(maxsize=65536)  # keys are 16-byte digests: ~10 MB at most
_verdicts_lock = threading.Lock()
_inflight: InFlight[str] = InFlight()


def get_pool(workers: int) -> HardTimeoutPool:
    """The process-wide fast-lane pool (`workers` processes); its size is fixed by the first caller."""
    return _lanes(workers)[0]


def _lanes(workers: int) -> tuple[HardTimeoutPool, HardTimeoutPool]:
    """(fast, slow): both created, and their workers started, together, so a slow-lane check never waits for a
    start-up the fast lane could have hidden. The slow lane has half as many workers (at least one)."""
    global _pool, _slow_pool
    with _pool_lock:
        if _pool is None or _slow_pool is None:
            _pool = HardTimeoutPool(workers, initializer=warm_worker, memory_mb=WORKER_MEMORY_MB)
            _slow_pool = HardTimeoutPool(max(1, workers // 2), initializer=warm_worker, memory_mb=WORKER_MEMORY_MB)
            _slow_pool.start_workers()
        return _pool, _slow_pool


def _pair_key(answer: str, reference: str) -> bytes:
    pair = f"{len(answer)}:{answer}{reference}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(pair, digest_size=16).digest()


def _compact(text: str) -> str:
    """Whitespace and sizing commands removed; brackets and signs kept (they carry meaning in math)."""
    return _NOISE.sub("", text)


def _fast_path(answer: str, reference: str, rel_tol: float) -> bool | None:
    """Identical text, two plain numbers, or what `rewards.math_fast` decides by evaluation; else None."""
    if _compact(answer) and _compact(answer) == _compact(reference):
        return True
    got, expected = parse_number(answer), parse_number(reference)
    if isinstance(got, Number) and isinstance(expected, Number):
        return numbers_match(got, expected, rel_tol)
    return quick_verdict(answer, reference)


async def verify_math(answer: str, reference: str, *, timeout: float, workers: int, rel_tol: float) -> Outcome:
    """Outcome of `answer` against `reference` as math; never raises, never runs past `timeout` + pool start."""
    fast = _fast_path(answer, reference, rel_tol)
    if fast is not None:
        return Outcome.of(fast)
    key = _pair_key(answer, reference)
    with _verdicts_lock:
        verdict = _verdicts.get(key)
    if verdict is None:
        verdict, _ = await _inflight.run(key, lambda: _verify_in_pool(answer, reference, timeout, workers), MATH_ERROR)
    if verdict == TIMEOUT:
        return Outcome.zero(Reason.MATH_TIMEOUT, timeout=True)
    if verdict == UNPARSEABLE:
        return Outcome.zero(Reason.UNPARSEABLE)
    if verdict == MATH_ERROR:
        return Outcome.zero(Reason.MATH_ERROR)
    return Outcome.of(verdict == EQUAL)


async def run_in_lanes(fn: Callable[..., Any], *args: Any, timeout: float, workers: int) -> Any:
    """fn(*args) in the fast lane with FAST_LANE_SECONDS of CPU, else in the slow lane with `timeout` (module
    docstring). Raises HardTimeout (also for a task stopped at its memory cap or killing its worker in the fast
    lane: those are not run again) or PoolUnavailable."""
    fast_budget = min(timeout, FAST_LANE_SECONDS)
    try:
        return await get_pool(workers).run(fn, *args, timeout=fast_budget)
    except HardTimeout as stopped:
        if fast_budget >= timeout or stopped.cause in ("memory", "died"):
            raise
    return await _lanes(workers)[1].run(fn, *args, timeout=timeout)


async def _verify_in_pool(answer: str, reference: str, timeout: float, workers: int) -> str:
    """The verdict of the lanes. TIMEOUT is not memoised: the wall-clock cap may have been the machine's fault."""
    try:
        verdict = await run_in_lanes(verify_pair, answer, reference, timeout=timeout, workers=workers)
    except HardTimeout:
        return TIMEOUT
    except PoolUnavailable:
        logger.warning("math-verify pool unavailable; scoring this answer 0")
        return MATH_ERROR
    with _verdicts_lock:
        _verdicts[_pair_key(answer, reference)] = verdict
    return verdict
