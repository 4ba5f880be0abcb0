"""Outputs that are either complete or absent: written under temporary names, renamed into place at the end.

Why: prep runs for many minutes over 120K rows; a run killed half-way must not leave a `train.parquet` that a
launcher then trains on. Each output is written to a hidden `.NAME.tmp-PID.EXT` next to its final path; `commit`
renames them all, the `last` one (the file launchers look for) last, after removing an older copy of it, so
at every instant either the new set is complete or that file is missing. `discard` (any failure, a signal)
removes the temporary files. SIGINT and SIGTERM become `Interrupted`, so `finally` blocks and workers clean up.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Interrupted(BaseException):
    """SIGINT / SIGTERM in the main thread. A BaseException, so no `except Exception` swallows it."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM


_received: list[int] = []  # the signal `interruptible` caught, if any


@contextmanager
def interruptible() -> Iterator[None]:
    """Inside: the first SIGINT or SIGTERM raises `Interrupted`; later ones are ignored while cleanup runs.

    A handler's exception is lost when the signal lands in a weakref or `__del__` callback (CPython reports it as
    unraisable), so the signal is also recorded and the row loops call `raise_if_interrupted()`.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def handler(signum, frame):
        if not _received:
            _received.append(signum)
            raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _received.clear()


def raise_if_interrupted() -> None:
    """Raise `Interrupted` if a signal arrived whose exception was swallowed on the way (see `interruptible`)."""
    if _received:
        raise Interrupted(_received[0])


def refuse_existing(paths: list[str], option: str, overwrite: bool) -> None:
    """FileExistsError naming what is there, unless `overwrite`."""
    there = [p for p in paths if os.path.lexists(p)]
    if there and not overwrite:
        raise FileExistsError(
            f"{option} would replace {', '.join(there)}: pass --overwrite to replace, or choose another {option}"
        )


def refuse_non_empty_dir(path: str, overwrite: bool) -> None:
    """A non-empty output folder is refused unless `overwrite` (then only this run's outputs are replaced)."""
    if os.path.lexists(path) and not os.path.isdir(path):
        raise NotADirectoryError(f"--out {path!r} exists and is not a directory")
    entries = sorted(os.listdir(path)) if os.path.isdir(path) else []
    if entries and not overwrite:
        shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
        raise FileExistsError(
            f"--out {path!r} is not empty ({shown}): pass --overwrite to replace its outputs, or choose another folder"
        )


class OutputFiles:
    """`temp(path)` names where to write each final path; `commit()` publishes all; `discard()` removes them."""

    def __init__(self, paths: list[str], last: str):
        if last not in paths:
            raise ValueError(f"{last} is not one of the outputs")
        self.order = [p for p in paths if p != last] + [last]
        self.last = last
        self._temps = {p: self._temp_name(p) for p in paths}

    @staticmethod
    def _temp_name(path: str) -> str:
        """`dir/.NAME.tmp-PID.EXT`: hidden, unique per run, and the extension kept (writers pick formats by it)."""
        stem, ext = os.path.splitext(os.path.basename(path))
        return os.path.join(os.path.dirname(path), f".{stem}.tmp-{os.getpid()}{ext}")

    def temp(self, path: str) -> str:
        return self._temps[path]

    def commit(self) -> None:
        if os.path.lexists(self.last):
            os.remove(self.last)  # from here on, an older set no longer looks complete
        for path in self.order:
            os.replace(self._temps[path], path)

    def discard(self) -> None:
        for tmp in self._temps.values():
            if os.path.lexists(tmp):
                os.remove(tmp)

    def __enter__(self) -> OutputFiles:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.discard()  # after a commit there is nothing left to remove
