"""One worker process of `rewards.hard_pool`, started as `python -m rewards.pool_worker FD`.

Why its own entry point and not multiprocessing: multiprocessing's spawn and forkserver workers re-run the
caller's `__main__` (a user's script without an `if __name__ == "__main__":` guard runs again in every worker;
`python - < script.py` cannot be re-run at all and every task fails). This process imports only what the tasks
it receives name, so it behaves the same under a script, `python -c`, stdin, a notebook, pytest or a Ray actor.

Protocol on the socket FD (pickled messages): the pool sends (initializer or None, memory budget in bytes or None),
the worker answers ("ready", pid, cpu); then for each task the pool sends (fn, args, cpu_budget) and the worker
answers ("ok", result, cpu), ("error", exception, cpu), ("cpu_timeout", seconds, cpu) or ("memory", message, cpu),
`cpu` being its CPU seconds so far (so the pool measures a task's CPU without a system call on the fast path).
`cpu_budget` is CPU seconds, counted by ITIMER_PROF, so a check that is slow only because the machine is busy is
not cut short (the pool enforces a wall-clock cap too).

Memory: after the initializer, the worker caps its own address space (RLIMIT_AS) at its size then plus the budget,
so an allocation past it fails (MemoryError) instead of growing the process (`(x+1)^{99999999}` reaches GBs in
seconds). Task code may swallow that MemoryError (math-verify does), so after each task the worker also looks at
its peak size: a task that went within a tenth of the cap, or raised MemoryError, is answered "memory" and the
worker exits (its heap is left fragmented and near the cap); the pool starts a fresh one.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from multiprocessing.connection import Connection


class CpuBudgetExceeded(BaseException):
    """Raised inside a task that used its CPU budget. A BaseException, so `except Exception` in task code
    (math-verify's parser swallows everything else) does not turn it into an ordinary result."""


def _on_budget(signum, frame):
    raise CpuBudgetExceeded


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it pickles, else a RuntimeError carrying its repr."""
    import pickle

    try:
        pickle.dumps(exc)
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _run_one(message: tuple) -> tuple:
    fn, args, cpu_budget = message
    signal.setitimer(signal.ITIMER_PROF, cpu_budget)
    try:
        return "ok", fn(*args)
    except CpuBudgetExceeded:
        return "cpu_timeout", cpu_budget
    except MemoryError:
        return "memory", "MemoryError at the address-space cap"
    except BaseException as exc:  # noqa: BLE001 - reported to the caller, the worker lives on
        return "error", _portable(exc)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


def _vm_bytes(field: str) -> int:
    """VmSize / VmPeak of this process from /proc (Linux); OSError elsewhere."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def limit_memory(budget: int | None) -> int | None:
    """Cap this process's address space at its present size + `budget` bytes; the cap, or None (no budget, or a
    platform without RLIMIT_AS / /proc, where the CPU and wall-clock bounds still hold)."""
    if not budget:
        return None
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = _vm_bytes("VmSize") + budget
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        return cap
    except (ImportError, OSError, ValueError):
        return None


def _over_memory(cap: int | None, budget: int | None) -> bool:
    """The tasks so far took this process within a tenth of its budget of the cap (VmPeak never goes down)."""
    if cap is None or not budget:
        return False
    try:
        return _vm_bytes("VmPeak") >= cap - budget // 10
    except OSError:
        return False


def serve(conn: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle; this process ends on EOF
    try:
        initializer, budget = conn.recv()
        if initializer is not None:
            initializer()
    except EOFError:
        return
    cap = limit_memory(budget)
    conn.send(("ready", os.getpid(), time.process_time()))
    signal.signal(signal.SIGPROF, _on_budget)
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the pool closed its end or its process died: nothing more to do
            return
        except Exception as exc:  # noqa: BLE001 - a task that cannot be unpickled here (e.g. defined in __main__)
            reply = ("error", RuntimeError(f"task cannot be loaded in the worker: {type(exc).__name__}: {exc}"))
        else:
            reply = _run_one(message)
        if reply[0] != "memory" and _over_memory(cap, budget):
            reply = ("memory", f"peak address space within a tenth of the cap ({budget // 2**20} MiB over start-up)")
        try:
            conn.send((*reply, time.process_time()))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            return
        except Exception as exc:  # noqa: BLE001 - an unpicklable result
            conn.send(("error", RuntimeError(f"task result cannot be sent back: {type(exc).__name__}: {exc}"),
                       time.process_time()))
        if reply[0] == "memory":
            return  # a fresh worker replaces this one


def main() -> None:
    fd = int(sys.argv[1])
    os.dup2(2, 1)  # stray prints of task code go to stderr, never into anything parsing the caller's stdout
    sock = socket.socket(fileno=fd)
    serve(Connection(sock.detach()))


if __name__ == "__main__":
    main()
