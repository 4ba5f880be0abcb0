"""Concurrent identical requests share one computation.

verl gathers all samples of a reward worker's chunk on one event loop, so the 8 rollouts of a GRPO group that
give the same answer arrive together: a result cache alone would miss for all of them. Here the first caller
computes and the others await its result.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class InFlight(Generic[T]):
    """`await inflight.run(key, compute, if_cancelled)` -> (result, shared). Per event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loops: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict]" = weakref.WeakKeyDictionary()

    def _pending(self) -> dict[Hashable, asyncio.Future]:
        loop = asyncio.get_running_loop()
        with self._lock:
            return self._loops.setdefault(loop, {})

    async def run(self, key: Hashable, compute: Callable[[], Awaitable[T]], if_cancelled: T) -> tuple[T, bool]:
        """`shared` is True when another caller's computation produced the result. Waiters get `if_cancelled`
        (never an exception) when the computing caller is cancelled or fails."""
        pending = self._pending()
        future = pending.get(key)
        if future is not None:
            return await asyncio.shield(future), True
        future = pending[key] = asyncio.get_running_loop().create_future()
        result = if_cancelled
        try:
            result = await compute()
            return result, False
        finally:
            del pending[key]
            future.set_result(result)
