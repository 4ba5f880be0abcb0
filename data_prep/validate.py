"""Stream a WeThink JSONL through the row parser and the image checks, in parallel, in input order.

Why a shared stage: the RL prep and the SFT export must accept and reject exactly the same rows. Lines go
to worker processes in batches with a bounded number in flight, so memory stays flat however long the file.
An interrupted run (Ctrl-C, SIGTERM, an error in the caller) stops its workers before it returns: they skip
what is left of their batch and exit, so no process outlives the run.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from tqdm import tqdm

from data_prep.images import ImageInfo, check_image
from data_prep.prompt_length import PromptLength, check_prompt_length, measure
from data_prep.rows import UNKNOWN_CATEGORY, Reject, WeThinkRow, decode_line, parse_row, rl_prompt, shown

BATCH_LINES = 64
# A line whose check raised something other than a Reject (a bug, or an input no check foresaw): it goes to the
# rejects with the exception, so that no line can stop a run or go missing, whatever its bytes.
CHECK_FAILED = "check_failed"
LABEL_CHARS = 200  # an unknown label as the summary counts it
IN_FLIGHT_PER_WORKER = 4


@dataclass(frozen=True)
class CheckOptions:
    image_root: str
    keep_bytes: bool = False  # embed mode: carry each image file's bytes to the writer
    reward_map: Mapping[str, str] | None = None
    category_map: Mapping[str, str] | None = None
    require_cot: bool = False  # SFT export: reject rows without reasoning text
    measure_prompt: bool = False  # RL prep: count the verl prompt's tokens (stats, and the limit below)
    min_pixels: int = 0
    max_pixels: int = 0
    tokenizer: str | None = None  # a local model directory: text tokens counted with its tokenizer
    max_prompt_tokens: int | None = None  # reject rows whose prompt is longer (None or 0: no limit)


@dataclass(frozen=True)
class Checked:
    lineno: int  # 1-based line number in the JSONL
    row: WeThinkRow
    images: tuple[ImageInfo, ...]
    prompt: PromptLength | None = None  # with CheckOptions.measure_prompt


@dataclass(frozen=True)
class Rejected:
    lineno: int
    reason: str
    detail: str
    raw: str  # the line as read (undecodable bytes backslash-escaped), without its newline
    label: tuple[str, str] | None = field(default=None)  # ("category"|"reward", raw value) for unknown labels


def check_line(lineno: int, raw: bytes, is_last: bool, opts: CheckOptions) -> Checked | Rejected:
    """One line -> a fully checked row (labels mapped, every image readable) or a reject with its reason; never
    raises (see CHECK_FAILED)."""
    try:
        row = parse_row(
            decode_line(raw, is_last),
            reward_map=opts.reward_map,
            category_map=opts.category_map,
            require_cot=opts.require_cot,
        )
        images = tuple(check_image(opts.image_root, p, keep_bytes=opts.keep_bytes) for p in row.image_paths)
        prompt = None
        if opts.measure_prompt:
            sizes = [(info.width, info.height) for info in images]
            prompt = measure(
                rl_prompt(row.problem, len(images)), sizes, opts.min_pixels, opts.max_pixels, opts.tokenizer
            )
            check_prompt_length(prompt, opts.max_prompt_tokens)
        return Checked(lineno, row, images, prompt)
    except Reject as rej:
        label = None
        if rej.value is not None:
            value = rej.value if isinstance(rej.value, str) and len(rej.value) <= LABEL_CHARS else shown(rej.value)
            label = ("category" if rej.reason == UNKNOWN_CATEGORY else "reward", value)
        return Rejected(lineno, rej.reason, rej.detail, _raw_text(raw), label)
    except Exception as exc:  # noqa: BLE001 - the line is rejected, the run goes on
        return Rejected(lineno, CHECK_FAILED, f"checking this line raised {type(exc).__name__}: {exc}"[:500], _raw_text(raw))


def _raw_text(raw: bytes) -> str:
    """The line as read, undecodable bytes backslash-escaped, without its newline."""
    return raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")


_stop = None  # in a worker process: the run's stop event (see ordered_map)


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT held back while the pool may start a worker: the worker inherits the blocked mask, so a Ctrl-C
    during its start-up cannot kill it with a traceback; the main process gets the signal on leaving."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _die_with_parent(parent_pid: int) -> None:
    """A main process killed with SIGKILL cannot stop its workers: on Linux the kernel sends each one SIGTERM
    when it goes (prctl PR_SET_PDEATHSIG); elsewhere they end when their pool's pipe closes."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    if os.getppid() != parent_pid:  # it went before the request was in place
        os._exit(1)


def _start_worker(stop, parent_pid: int) -> None:
    """Workers leave Ctrl-C to the main process, which stops them through `stop` (no tracebacks, no orphans),
    and go with it if it is killed outright."""
    global _stop
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # a pending one is dropped: it is ignored
    _stop = stop


def _check_batch(batch: list[tuple[int, bytes, bool]], opts: CheckOptions) -> list[Checked | Rejected]:
    results = []
    for lineno, raw, is_last in batch:
        if _stop is not None and _stop.is_set():
            break  # the run was interrupted: its results are discarded anyway
        results.append(check_line(lineno, raw, is_last, opts))
    return results


def count_lines(path: str) -> int:
    """Lines in a file (a last line without newline counts), for the progress bar's total."""
    n, last = 0, b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


def read_lines(path: str) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, raw bytes, is last line) with one line of lookahead, so a cut-off tail is recognised."""
    with open(path, "rb") as fh:
        prev, lineno = None, 0
        for line in fh:
            if prev is not None:
                yield lineno, prev, False
            prev, lineno = line, lineno + 1
        if prev is not None:
            yield lineno, prev, True


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def ordered_map(fn: Callable, batches: Iterable, workers: int) -> Iterator:
    """`map(fn, batches)` over a process pool, results in input order, a bounded number of batches in flight.

    If the consumer stops early (an exception, a signal, `close()`), queued batches are cancelled and running
    ones cut short through a shared event; the workers have exited when this generator is closed.
    """
    if workers <= 1:
        yield from map(fn, batches)
        return
    # spawn: the caller may have imported torch (threads), which makes fork unsafe.
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(stop, os.getpid()))
    finished = False
    try:
        pending: deque = deque()
        for batch in batches:
            with _sigint_blocked():  # submit() is where the pool starts its workers
                pending.append(pool.submit(fn, batch))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
        finished = True
    finally:
        if not finished:
            stop.set()
        pool.shutdown(wait=True, cancel_futures=not finished)


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 16))


def iter_checked(
    jsonl: str, opts: CheckOptions, *, workers: int | None = None, progress: bool = True, total: int | None = None
) -> Iterator[Checked | Rejected]:
    """Every line of `jsonl`, in order, as `Checked` or `Rejected` (nothing is skipped). `total`: its line count,
    if the caller has it already. Close the iterator (`contextlib.closing`) to stop the workers early."""
    workers = default_workers() if workers is None else workers
    total = count_lines(jsonl) if total is None else total
    fn = functools.partial(_check_batch, opts=opts)
    with tqdm(total=total, unit="row", desc="checking rows", disable=not progress, dynamic_ncols=True) as bar:
        for results in ordered_map(fn, _batches(read_lines(jsonl), BATCH_LINES), workers):
            bar.update(len(results))
            yield from results


class RejectsWriter:
    """`rejects.jsonl`: one record per rejected line (its number, reason, detail and the raw line)."""

    def __init__(self, path: str):
        self.path, self.count = path, 0
        self._fh = open(path, "w", encoding="utf-8")

    def write(self, rej: Rejected) -> None:
        record = {"line": rej.lineno, "reason": rej.reason, "detail": rej.detail, "raw": rej.raw}
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.count += 1

    def close(self) -> None:
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
