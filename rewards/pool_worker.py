"""One worker process of `rewards.hard_pool`, started as `python -m rewards.pool_worker FD`.

Why its own entry point and not multiprocessing: multiprocessing's spawn and forkserver workers re-run the
caller's `__main__` (a user's script without an `if __name__ == "__main__":` guard runs again in every worker;
`python - < script.py` cannot be re-run at all and every task fails). This process imports only what the tasks
it receives name, so it behaves the same under a script, `python -c`, stdin, a notebook, pytest or a Ray actor.

Protocol on the socket FD (pickled messages): the pool sends the initializer (or None), the worker answers
("ready", pid, cpu); then for each task the pool sends (fn, args, cpu_budget) and the worker answers ("ok", result,
cpu), ("error", exception, cpu) or ("cpu_timeout", seconds, cpu), `cpu` being its CPU seconds so far (so the pool
measures a task's CPU without a system call on the fast path). `cpu_budget` is CPU seconds, counted by ITIMER_PROF, so a
check that is slow only because the machine is busy is not cut short (the pool enforces a wall-clock cap too).
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
    except BaseException as exc:  # noqa: BLE001 - reported to the caller, the worker lives on
        return "error", _portable(exc)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


def serve(conn: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle; this process ends on EOF
    try:
        initializer = conn.recv()
        if initializer is not None:
            initializer()
    except EOFError:
        return
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
        try:
            conn.send((*reply, time.process_time()))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            return
        except Exception as exc:  # noqa: BLE001 - an unpicklable result
            conn.send(("error", RuntimeError(f"task result cannot be sent back: {type(exc).__name__}: {exc}"),
                       time.process_time()))


def main() -> None:
    fd = int(sys.argv[1])
    os.dup2(2, 1)  # stray prints of task code go to stderr, never into anything parsing the caller's stdout
    sock = socket.socket(fileno=fd)
    serve(Connection(sock.detach()))


if __name__ == "__main__":
    main()
