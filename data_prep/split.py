"""Deterministic, category-stratified train/val split that never holds all rows.

Each accepted row gets a seeded hash of its content (problem + image paths), so the split does not depend
on line order and duplicated questions land on the same side. Per category only the `cap` smallest hashes
are kept; once the counts are known, each category sends its `quota` smallest-hash rows to val.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter

DEFAULT_VAL_FRACTION = 0.05
DEFAULT_VAL_MAX = 1000


def row_key(seed: int, problem: str, image_paths: tuple[str, ...]) -> int:
    """Seeded 64-bit content hash: same seed and row, same side of the split."""
    payload = "\x00".join((str(seed), problem, *image_paths)).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(payload, digest_size=8).digest(), "big")


def default_val_size(n_rows: int) -> int:
    return min(DEFAULT_VAL_MAX, math.ceil(DEFAULT_VAL_FRACTION * n_rows))


def allocate_val(counts: dict[str, int], val_size: int) -> dict[str, int]:
    """Val rows per category: proportional to its size, at least one per category that has two rows or more
    (so val covers it and train keeps one), never all of a category. Coverage wins over `val_size` when
    `val_size` is smaller than the number of categories."""
    room = {c: n - 1 for c, n in counts.items() if n >= 2}
    quota = dict.fromkeys(counts, 0)
    if val_size <= 0 or not room:
        return quota
    target = min(val_size, sum(room.values()))
    total = sum(counts.values())
    for c in room:
        quota[c] = 1
    while sum(quota.values()) < target:
        # largest remainder: the category furthest below its proportional share that still has room
        best = max(
            (c for c in room if quota[c] < room[c]),
            key=lambda c: (counts[c] * target / total - quota[c], c),
        )
        quota[best] += 1
    return quota


class ValSelector:
    """Streams (category, key, line) and keeps, per category, only the `cap` smallest keys."""

    def __init__(self, cap: int):
        self.cap = cap
        self.counts: Counter[str] = Counter()
        self._heaps: dict[str, list[tuple[int, int]]] = {}

    def add(self, category: str, key: int, lineno: int) -> None:
        self.counts[category] += 1
        if self.cap <= 0:
            return
        heap = self._heaps.setdefault(category, [])
        item = (-key, -lineno)  # max-heap of the smallest (key, line) pairs
        if len(heap) < self.cap:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)

    def select(self, val_size: int | None = None) -> tuple[set[int], dict[str, int]]:
        """The val line numbers and the per-category quotas (`val_size=None`: 5% of rows, at most 1000)."""
        size = default_val_size(sum(self.counts.values())) if val_size is None else val_size
        quotas = allocate_val(dict(self.counts), size)
        if any(q > self.cap for q in quotas.values()):
            raise ValueError(f"val_size {size} needs more than the {self.cap} rows kept per category")
        chosen: set[int] = set()
        for category, heap in self._heaps.items():
            smallest = sorted((-k, -ln) for k, ln in heap)[: quotas[category]]
            chosen.update(ln for _, ln in smallest)
        return chosen, quotas
