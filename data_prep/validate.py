"""Stream a WeThink JSONL through the row parser and the image checks, in parallel, in input order.

Why a shared stage: the RL prep and the SFT export must accept and reject exactly the same rows. Lines go
to worker processes in batches with a bounded number in flight, so memory stays flat however long the file.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from tqdm import tqdm

from data_prep.images import ImageInfo, check_image
from data_prep.rows import UNKNOWN_CATEGORY, Reject, WeThinkRow, decode_line, parse_row

BATCH_LINES = 64
IN_FLIGHT_PER_WORKER = 4


@dataclass(frozen=True)
class CheckOptions:
    image_root: str
    keep_bytes: bool = False  # embed mode: carry each image file's bytes to the writer
    reward_map: Mapping[str, str] | None = None
    category_map: Mapping[str, str] | None = None
    require_cot: bool = False  # SFT export: reject rows without reasoning text


@dataclass(frozen=True)
class Checked:
    lineno: int  # 1-based line number in the JSONL
    row: WeThinkRow
    images: tuple[ImageInfo, ...]


@dataclass(frozen=True)
class Rejected:
    lineno: int
    reason: str
    detail: str
    raw: str  # the line as read (undecodable bytes backslash-escaped), without its newline
    label: tuple[str, str] | None = field(default=None)  # ("category"|"reward", raw value) for unknown labels


def check_line(lineno: int, raw: bytes, is_last: bool, opts: CheckOptions) -> Checked | Rejected:
    """One line -> a fully checked row (labels mapped, every image readable) or a reject with its reason."""
    try:
        row = parse_row(
            decode_line(raw, is_last),
            reward_map=opts.reward_map,
            category_map=opts.category_map,
            require_cot=opts.require_cot,
        )
        images = tuple(check_image(opts.image_root, p, keep_bytes=opts.keep_bytes) for p in row.image_paths)
        return Checked(lineno, row, images)
    except Reject as rej:
        label = None
        if rej.value is not None:
            label = ("category" if rej.reason == UNKNOWN_CATEGORY else "reward", str(rej.value))
        text = raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
        return Rejected(lineno, rej.reason, rej.detail, text, label)


def _check_batch(batch: list[tuple[int, bytes, bool]], opts: CheckOptions) -> list[Checked | Rejected]:
    return [check_line(lineno, raw, is_last, opts) for lineno, raw, is_last in batch]


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
    """`map(fn, batches)` over a process pool, results in input order, a bounded number of batches in flight."""
    if workers <= 1:
        yield from map(fn, batches)
        return
    # spawn: the caller may have imported torch (threads), which makes fork unsafe.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque = deque()
        for batch in batches:
            pending.append(pool.submit(fn, batch))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 16))


def iter_checked(
    jsonl: str, opts: CheckOptions, *, workers: int | None = None, progress: bool = True
) -> Iterator[Checked | Rejected]:
    """Every line of `jsonl`, in order, as `Checked` or `Rejected` (nothing is skipped)."""
    workers = default_workers() if workers is None else workers
    total = count_lines(jsonl)
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
