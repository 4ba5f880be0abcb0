"""A process pool whose tasks have a hard deadline, usable from any thread's event loop.

Why: math-verify bounds itself with `signal.alarm`, which only works in a main thread; verl calls reward
functions from Ray actor threads and executor threads, where it fails or hangs. Here a task runs in a worker
process; if it runs past its deadline, the pool's workers are killed and a fresh pool takes over, so one
pathological input costs one timeout and never a stuck reward worker. Tasks that were running in the killed
pool on behalf of other callers are resubmitted once to the fresh pool.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

logger = logging.getLogger(__name__)


class HardTimeout(TimeoutError):
    """The task ran past its deadline; its worker was killed."""


class PoolUnavailable(RuntimeError):
    """The pool broke twice under this task (workers killed by other timeouts, or failing to start)."""


def _ready() -> bool:
    return True


class HardTimeoutPool:
    """`await pool.run(fn, *args, timeout=s)`: fn(*args) in a worker process, or HardTimeout after s seconds.

    `workers` tasks run at once per event loop, so the deadline measures running time, not queueing time;
    a fresh pool's start-up (process start, `initializer`) is awaited before the deadline clock starts.
    """

    def __init__(
        self,
        workers: int,
        initializer: Callable[[], None] | None = None,
        start_method: str = "forkserver",
        preload: tuple[str, ...] = (),
        startup_timeout: float = 60.0,
    ):
        self.workers = max(1, int(workers))
        self.initializer = initializer
        self.startup_timeout = startup_timeout
        self.replacements = 0  # how many times a timeout forced a fresh pool
        self._context = multiprocessing.get_context(start_method)
        if preload and start_method == "forkserver":
            self._context.set_forkserver_preload(list(preload))  # workers fork with these already imported
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._warmup: list = []
        self._generation = 0
        self._semaphores: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = (
            weakref.WeakKeyDictionary()
        )

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        with self._lock:
            semaphore = self._semaphores.get(loop)
            if semaphore is None:
                semaphore = self._semaphores[loop] = asyncio.Semaphore(self.workers)
            return semaphore

    def _current(self) -> tuple[ProcessPoolExecutor, list, int]:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.workers, mp_context=self._context, initializer=self.initializer
                )
                # One no-op per worker starts every process now, so no task's deadline pays for start-up.
                self._warmup = [self._executor.submit(_ready) for _ in range(self.workers)]
            return self._executor, self._warmup, self._generation

    def _replace(self, generation: int) -> None:
        """Kill the workers of `generation` (if still current) so the next task gets a fresh pool."""
        with self._lock:
            if generation != self._generation or self._executor is None:
                return
            executor, self._executor, self._warmup = self._executor, None, []
            self._generation += 1
            self.replacements += 1
        _kill_workers(executor)
        executor.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
        """fn(*args) in a worker. Raises HardTimeout, PoolUnavailable, or whatever fn raised."""
        async with self._semaphore():
            for _attempt in range(2):
                executor, warmup, generation = self._current()
                try:
                    await asyncio.wait_for(
                        asyncio.gather(*(asyncio.wrap_future(f) for f in warmup)), self.startup_timeout
                    )
                    future = executor.submit(fn, *args)
                except (BrokenProcessPool, RuntimeError, asyncio.TimeoutError) as exc:
                    logger.warning("math worker pool unusable (%s); starting a fresh one", type(exc).__name__)
                    self._replace(generation)
                    continue
                try:
                    return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
                except asyncio.TimeoutError:
                    self._replace(generation)
                    raise HardTimeout(f"task exceeded its hard deadline of {timeout:g}s") from None
                except BrokenProcessPool:  # another task's timeout killed this pool: resubmit to the fresh one
                    self._replace(generation)
            raise PoolUnavailable("worker pool broke twice under this task")

    def shutdown(self) -> None:
        """Stop the workers now; the pool stays usable (the next task starts fresh workers)."""
        with self._lock:
            executor, self._executor, self._warmup = self._executor, None, []
            self._generation += 1
        if executor is not None:
            _kill_workers(executor)
            executor.shutdown(wait=True, cancel_futures=True)


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    """SIGKILL the executor's processes: a task stuck in C code ignores anything gentler."""
    kill = getattr(executor, "kill_workers", None)  # public from Python 3.14
    if kill is not None:
        kill()
        return
    for process in list(getattr(executor, "_processes", {}).values()):
        if process.is_alive():
            process.kill()
