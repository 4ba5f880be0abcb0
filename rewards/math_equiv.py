"""Math equivalence with math-verify, run in a hard-deadline process pool.

Cheap cases never leave the process: identical text, or two plain numbers. The rest goes to a worker process
(`rewards.hard_pool`), which bounds the check by CPU time and kills it if it ignores that bound. A GRPO group
often repeats the same final answer, so verdicts are memoised per process and concurrent identical checks
share one worker call.
"""

from __future__ import annotations

import functools
import logging
import re
import threading

from cachetools import LRUCache

from rewards.hard_pool import HardTimeout, HardTimeoutPool, PoolUnavailable
from rewards.inflight import InFlight
from rewards.numeric import Number, numbers_match, parse_number
from rewards.outcome import Outcome, Reason

logger = logging.getLogger(__name__)

EQUAL, DIFFERENT, UNPARSEABLE, TIMEOUT = "equal", "different", "unparseable", "timeout"
MATH_ERROR = "error"  # the pool could not run the check (parent side only)
_DELIMITED = ("$", "\\(", "\\[", "\\boxed")
_NOISE = re.compile(r"\s+|\$|\\left|\\right|\\[,;:! ]")


def _as_latex(text: str) -> str:
    """math-verify extracts LaTeX from delimited spans; a bare reference like `\\frac{1}{2}` needs `$...$`."""
    return text if any(d in text for d in _DELIMITED) else f"${text}$"


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple:
    """Worker side, memoised: a reference is parsed once for all the answers a GRPO group gives to it."""
    from math_verify import parse

    return tuple(parse(_as_latex(text), parsing_timeout=None, raise_on_error=True))


def verify_pair(answer: str, reference: str) -> str:
    """Worker side: EQUAL / DIFFERENT / UNPARSEABLE for one (answer, reference) pair.

    math-verify's own timeouts are off: they are wall-clock alarms (a busy machine would fire them on right
    answers); the pool bounds the whole check by CPU time instead.
    """
    from math_verify import verify

    try:
        gold, pred = _parse(reference), _parse(answer)
        if not gold or not pred:
            return UNPARSEABLE
        return EQUAL if verify(list(gold), list(pred), timeout_seconds=None, raise_on_error=True) else DIFFERENT
    except Exception:  # math-verify's parser raises a zoo of types on malformed LaTeX
        return UNPARSEABLE


def warm_worker() -> None:
    """Pool initializer: quiet math-verify's own timeout logging, and pay its first-call costs before any deadline."""
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    verify_pair("\\frac{x^2-1}{x+1}", "x - 1")


_pool: HardTimeoutPool | None = None
_pool_lock = threading.Lock()
_verdicts: LRUCache = LRUCache(maxsize=65536)
_verdicts_lock = threading.Lock()
_inflight: InFlight[str] = InFlight()


def get_pool(workers: int) -> HardTimeoutPool:
    """The process-wide pool; its size is fixed by the first caller."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = HardTimeoutPool(workers, initializer=warm_worker)
        return _pool


def _compact(text: str) -> str:
    """Whitespace and sizing commands removed; brackets and signs kept (they carry meaning in math)."""
    return _NOISE.sub("", text)


def _fast_path(answer: str, reference: str, rel_tol: float) -> bool | None:
    if _compact(answer) and _compact(answer) == _compact(reference):
        return True
    got, expected = parse_number(answer), parse_number(reference)
    if isinstance(got, Number) and isinstance(expected, Number):
        return numbers_match(got, expected, rel_tol)
    return None


async def verify_math(answer: str, reference: str, *, timeout: float, workers: int, rel_tol: float) -> Outcome:
    """Outcome of `answer` against `reference` as math; never raises, never runs past `timeout` + pool start."""
    fast = _fast_path(answer, reference, rel_tol)
    if fast is not None:
        return Outcome.of(fast)
    key = (answer, reference)
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


async def _verify_in_pool(answer: str, reference: str, timeout: float, workers: int) -> str:
    try:
        verdict = await get_pool(workers).run(verify_pair, answer, reference, timeout=timeout)
    except HardTimeout:  # not memoised: the wall-clock cap may have been the machine's fault
        return TIMEOUT
    except PoolUnavailable:
        logger.warning("math-verify pool unavailable; scoring this answer 0")
        return MATH_ERROR
    with _verdicts_lock:
        _verdicts[(answer, reference)] = verdict
    return verdict
