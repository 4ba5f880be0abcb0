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

Memory: with `memory_mb`, each worker caps its address space at its size after start-up plus that much
(`rewards.pool_worker`); a task that reaches the cap gets HardTimeout (cause "memory") and its worker is replaced.
A worker that dies under a task (the kernel's OOM killer, a crash in C code) is replaced too and the task gets
HardTimeout (cause "died"): it is not run again, since it may well be what killed the worker.
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
    """The task was stopped: `cause` "cpu" (its CPU budget), "wall" (the wall-clock cap), "memory" (the memory
    cap) or "died" (its worker died under it)."""

    def __init__(self, message: str, cause: str = "cpu"):
        super().__init__(message)
        self.cause = cause


class PoolUnavailable(RuntimeError):
    """No worker could run this task (workers failing to start, or dying under it twice)."""


class _WorkerDied(Exception):
    """The worker was gone before the task reached it: the task may run on a fresh one."""


class _DiedUnderTask(Exception):
    """The worker died while it ran the task."""


def _worker_env() -> dict[str, str]:
    """The caller's import path, so a worker resolves `rewards` and the task's module as the caller does."""
    env = dict(os.environ)
    paths = [p or os.getcwd() for p in sys.path]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env["PYTHONPATH"]] if env.get("PYTHONPATH") else paths)
    return env


class _Worker:
    """One subprocess and its socket. Used by one pool thread at a time."""

    def __init__(self, initializer: Callable[[], None] | None, memory_bytes: int | None = None):
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
        self.conn.send((initializer, memory_bytes))
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
        """(kind, value) from the worker, or ("killed_cpu" / "killed_wall", reason) after the worker was killed for
        overrunning. _WorkerDied: it was gone before the task; _DiedUnderTask: it died running it."""
        if self.process.poll() is not None:
            raise _WorkerDied(f"worker exited while idle (code {self.process.returncode})")
        try:
            self.conn.send((fn, args, budget))
        except OSError as exc:
            raise _WorkerDied("worker gone before the task was sent") from exc
        self.tasks += 1
        started, cpu_at_start = time.monotonic(), self.cpu_mark
        try:
            # No task has used its budget before `budget` seconds of wall time: wait that long without looking.
            if self.conn.poll(budget):
                return self._recv()
            while True:
                cpu = self.cpu_seconds() - cpu_at_start
                wall = time.monotonic() - started
                if cpu >= budget + _KILL_GRACE:
                    self.kill()
                    return "killed_cpu", f"{cpu:.2f} CPU s, past its budget of {budget:g}s"
                if wall >= wall_cap:
                    self.kill()
                    return "killed_wall", f"{wall:.1f}s of wall time with {cpu:.2f} CPU s (cap {wall_cap:g}s)"
                if self.conn.poll(min(0.1, max(0.0, wall_cap - wall))):
                    return self._recv()
        except _WorkerDied as exc:
            raise _DiedUnderTask(str(exc)) from exc

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
        memory_mb: int | None = None,
    ):
        self.workers = max(1, int(workers))
        self.initializer = initializer
        self.memory_bytes = int(memory_mb * 2**20) if memory_mb else None
        self.startup_timeout = startup_timeout
        self.wall_factor = wall_factor
        self.replacements = 0  # workers replaced after a task overran its CPU, wall-clock or memory cap, or died
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
            worker = _Worker(self.initializer, self.memory_bytes)
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
                except _DiedUnderTask as exc:
                    kind, value = "died", f"its worker died under it ({exc})"
                if kind == "ok":
                    return value
                if kind == "error":
                    raise value
                if kind == "cpu_timeout":
                    raise HardTimeout(f"task used its CPU budget of {timeout:g}s", "cpu")
                cause = {"killed_cpu": "cpu", "killed_wall": "wall", "memory": "memory", "died": "died"}[kind]
                with self._lock:
                    self.replacements += 1
                self._retire(worker)
                worker = self._spawn()  # starts now; the next task waits for its start-up, not this one
                raise HardTimeout(f"task stopped: {value}", cause)
            raise PoolUnavailable("no worker process could run this task (two attempts)")
        finally:
            self._idle.put(worker)

    def start_workers(self) -> None:
        """Start the worker processes now, without waiting for them to be ready."""
        self._start_threads()

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
