"""A pool of worker processes whose tasks have a hard deadline, usable from any thread's event loop.

Why: math-verify bounds itself with `signal.alarm`, which only works in a main thread; verl calls reward
functions from Ray actor threads and executor threads, where it fails or hangs. Here a task runs in a worker
process; a task past its deadline gets its worker killed and replaced, so one pathological input costs one
timeout and never a stuck reward worker. Other workers, and the tasks they run, are untouched.

The workers are plain subprocesses (`python -m rewards.pool_worker`), not multiprocessing's: those re-run the
caller's `__main__` in every worker (see `rewards.pool_worker`).

The deadline measures the task, not the machine: `timeout` is CPU seconds of the worker, so a right answer is
not scored 0 because the node is saturated by rollouts or data loading. A task that does not use CPU (blocked,
or starved for longer than anyone should wait) is still ended by a wall-clock cap of `wall_factor * timeout`.
Queueing for a free worker and a worker's start-up are not counted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import psutil

logger = logging.getLogger(__name__)

WALL_FACTOR = 8.0  # a check may take this many times its CPU budget in wall time on a busy machine
_KILL_GRACE = 0.25  # CPU seconds past the budget before the pool kills a task that ignores its own timer


class HardTimeout(TimeoutError):
    """The task used up its CPU budget or its wall-clock cap; it was stopped."""


class PoolUnavailable(RuntimeError):
    """No worker could run this task (workers failing to start, or dying under it twice)."""


class _WorkerDied(Exception):
    pass


def _worker_env() -> dict[str, str]:
    """The caller's import path, so a worker resolves `rewards` and the task's module as the caller does."""
    env = dict(os.environ)
    paths = [p or os.getcwd() for p in sys.path]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env["PYTHONPATH"]] if env.get("PYTHONPATH") else paths)
    return env


class _Worker:
    """One subprocess and its socket. Used by one pool thread at a time."""

    def __init__(self, initializer: Callable[[], None] | None):
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "rewards.pool_worker", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=_worker_env(),
                close_fds=True,
            )
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.conn.send(initializer)
        self.ready = False
        self.tasks = 0
        self.cpu_mark = 0.0  # the worker's CPU seconds when it last replied (it idles at ~0 CPU between tasks)

    def wait_ready(self, timeout: float) -> None:
        if self.ready:
            return
        if not self.conn.poll(timeout):
            raise _WorkerDied(f"no ready message within {timeout:g}s")
        self._recv()
        self.ready = True

    def _recv(self) -> tuple:
        try:
            *reply, self.cpu_mark = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise _WorkerDied(f"worker exited (code {self.process.poll()})") from exc
        return tuple(reply)

    def cpu_seconds(self) -> float:
        try:
            times = psutil.Process(self.process.pid).cpu_times()
        except psutil.Error:
            return 0.0
        return times.user + times.system

    def run(self, fn: Callable, args: tuple, budget: float, wall_cap: float) -> tuple[str, Any]:
        """(kind, value) from the worker, or ("killed", reason) after the worker was killed for overrunning."""
        try:
            self.conn.send((fn, args, budget))
        except OSError as exc:
            raise _WorkerDied("worker gone before the task was sent") from exc
        self.tasks += 1
        started, cpu_at_start = time.monotonic(), self.cpu_mark
        # No task has used its budget before `budget` seconds of wall time: wait that long without looking.
        if self.conn.poll(budget):
            return self._recv()
        while True:
            cpu = self.cpu_seconds() - cpu_at_start
            wall = time.monotonic() - started
            if cpu >= budget + _KILL_GRACE:
                self.kill()
                return "killed", f"{cpu:.2f} CPU s, past its budget of {budget:g}s"
            if wall >= wall_cap:
                self.kill()
                return "killed", f"{wall:.1f}s of wall time with {cpu:.2f} CPU s (cap {wall_cap:g}s)"
            if self.conn.poll(min(0.1, max(0.0, wall_cap - wall))):
                return self._recv()

    def kill(self) -> None:
        """SIGKILL: a task stuck in C code ignores anything gentler."""
        try:
            self.process.kill()
        except OSError:
            pass
        self.process.wait()
        self.conn.close()


class HardTimeoutPool:
    """`await pool.run(fn, *args, timeout=s)`: fn(*args) in a worker process, or HardTimeout.

    `fn` must be importable by its module name (pickled by reference). `initializer` runs once in each worker
    before its first task, outside any deadline. At most `workers` tasks run at once (all event loops and
    threads together); the rest queue, and queueing time is not counted.
    """

    def __init__(
        self,
        workers: int,
        initializer: Callable[[], None] | None = None,
        startup_timeout: float = 60.0,
        wall_factor: float = WALL_FACTOR,
    ):
        self.workers = max(1, int(workers))
        self.initializer = initializer
        self.startup_timeout = startup_timeout
        self.wall_factor = wall_factor
        self.replacements = 0  # workers killed for overrunning their deadline
        self._lock = threading.RLock()
        self._threads: ThreadPoolExecutor | None = None
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        self._all: set[_Worker] = set()
        weakref.finalize(self, _kill_all, self._all)

    def _start_threads(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="hard-pool")
                for _ in range(self.workers):  # start every worker now: none waits for another's start-up
                    self._idle.put(self._spawn())
            return self._threads

    def _spawn(self) -> _Worker | None:
        try:
            worker = _Worker(self.initializer)
        except OSError as exc:
            logger.warning("cannot start a math worker process: %s", exc)
            return None
        with self._lock:
            self._all.add(worker)
        return worker

    def _retire(self, worker: _Worker | None) -> None:
        if worker is not None:
            worker.kill()
            with self._lock:
                self._all.discard(worker)

    def _execute(self, fn: Callable, args: tuple, timeout: float) -> Any:
        """In a pool thread: take an idle worker (starting it if needed), run the task, give a worker back."""
        worker = self._idle.get()
        try:
            for _attempt in range(2):
                try:
                    if worker is None:
                        worker = self._spawn()
                        if worker is None:
                            continue
                    worker.wait_ready(self.startup_timeout)
                    kind, value = worker.run(fn, args, timeout, timeout * self.wall_factor)
                except _WorkerDied as exc:
                    logger.warning("math worker process lost (%s); starting a fresh one", exc)
                    self._retire(worker)
                    worker = None
                    continue
                if kind == "ok":
                    return value
                if kind == "error":
                    raise value
                if kind == "killed":
                    with self._lock:
                        self.replacements += 1
                    self._retire(worker)
                    worker = self._spawn()  # starts now; the next task waits for its start-up, not this one
                    raise HardTimeout(f"task stopped: {value}")
                raise HardTimeout(f"task used its CPU budget of {timeout:g}s")
            raise PoolUnavailable("no worker process could run this task (two attempts)")
        finally:
            self._idle.put(worker)

    def start(self) -> None:
        """Start every worker and wait until each is ready (for callers that want start-up out of the way)."""
        self._start_threads()
        workers = [self._idle.get() for _ in range(self.workers)]
        try:
            for worker in workers:
                if worker is not None:
                    worker.wait_ready(self.startup_timeout)
        except _WorkerDied as exc:
            logger.warning("math worker process failed to start (%s); tasks will start a fresh one", exc)
        finally:
            for worker in workers:
                self._idle.put(worker)

    async def run(self, fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
        """fn(*args) in a worker. Raises HardTimeout, PoolUnavailable, or whatever fn raised."""
        future = self._start_threads().submit(self._execute, fn, args, timeout)
        return await asyncio.wrap_future(future)

    def shutdown(self) -> None:
        """Stop the idle workers now; the pool stays usable (the next task starts fresh workers)."""
        with self._lock:
            threads = self._threads
        if threads is None:
            return
        for _ in range(self.workers):
            worker = self._idle.get()  # waits for running tasks to hand their worker back
            self._retire(worker)
            self._idle.put(None)


def _kill_all(workers: set[_Worker]) -> None:
    for worker in list(workers):
        worker.kill()
