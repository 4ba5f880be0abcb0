"""Judge verdicts by (judge model, prompt version, question, reference, answer): in memory, optionally on disk.

GRPO samples several answers per question and many of them repeat, so most judge calls are repeats. The disk
cache is one SQLite file in WAL mode per node: the several reward worker processes of a node (and restarts of a
run) share it safely, and a verdict written by one worker is visible to the others on their next miss. SQLite's
WAL mode is for one host only, so the configured path gets the node's host name inserted
(`cache.sqlite` -> `cache.<host>.sqlite`): on a filesystem shared by several nodes each node writes its own file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import sqlite3
import threading
import time

from cachetools import LRUCache

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 10.0  # how long a statement waits for another process's lock


def _switch_to_wal(db: sqlite3.Connection, deadline: float) -> str:
    """Set WAL mode, retrying until `deadline`: SQLite answers "database is locked" at once, without its busy
    handler, when another process is opening or switching the same file (several reward workers starting together).
    Returns the mode in force; a file that cannot take WAL stays in rollback mode, which is slower but correct."""
    pause = 0.005
    while True:
        try:
            return db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def node_local_path(path: str, host: str | None = None) -> str:
    """`dir/name.ext` -> `dir/name.<host>.ext`: one SQLite file per node, safe on a shared filesystem."""
    host = host or socket.gethostname() or "localhost"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in host)
    root, ext = os.path.splitext(path)
    return f"{root}.{safe}{ext or '.sqlite'}"


def verdict_key(*parts: str) -> str:
    """A stable digest of the parts (which may be long texts)."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


class VerdictCache:
    """get/put of float verdicts; thread-safe; disk errors are logged and degrade to memory only."""

    def __init__(self, path: str | None = None, max_memory_entries: int = 200_000):
        self.path = node_local_path(path) if path else None
        self._memory: LRUCache = LRUCache(maxsize=max_memory_entries)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if self.path:
            self._db = self._open(self.path)

    @staticmethod
    def _open(path: str) -> sqlite3.Connection | None:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
            mode = _switch_to_wal(db, deadline=time.monotonic() + BUSY_TIMEOUT_S)
            if mode != "wal":
                logger.warning("judge cache %s kept journal mode %r (no WAL here); slower, still shared", path, mode)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, score REAL NOT NULL)")
            return db
        except sqlite3.Error as exc:
            logger.error("judge cache %s unusable (%s); caching in memory only", path, exc)
            return None

    @property
    def persistent(self) -> bool:
        return self._db is not None

    def peek(self, key: str) -> float | None:
        """Memory only: never blocks on disk."""
        with self._lock:
            return self._memory.get(key)

    def get(self, key: str) -> float | None:
        """Memory, then disk (blocking: call it off the event loop when `persistent`)."""
        with self._lock:
            score = self._memory.get(key)
            if score is not None or self._db is None:
                return score
            try:
                row = self._db.execute("SELECT score FROM verdicts WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as exc:
                logger.warning("judge cache read failed: %s", exc)
                return None
            if row is not None:
                self._memory[key] = row[0]
                return row[0]
            return None

    def put(self, key: str, score: float) -> None:
        """Memory and disk (blocking: call it off the event loop when `persistent`)."""
        with self._lock:
            self._memory[key] = score
            if self._db is None:
                return
            try:
                self._db.execute("INSERT OR REPLACE INTO verdicts (key, score) VALUES (?, ?)", (key, score))
            except sqlite3.Error as exc:
                logger.warning("judge cache write failed: %s", exc)

    def __len__(self) -> int:
        return len(self._memory)
