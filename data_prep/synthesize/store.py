"""Everything the pipeline keeps on disk: the per-stage reply cache and the resumable run files.

Run files next to `--out FILE.jsonl`:
- `FILE.jsonl`          rows, append-only, one fsync per finished image;
- `FILE.rejects.jsonl`  what was dropped (image, stage, reason), appended the same way;
- `FILE.done.jsonl`     one record per finished image, written LAST, so an image counts as done only once its
                        rows and rejects are on disk;
- `FILE.summary.json`   kept / rejected per stage, rewritten at the end of every run;
- `FILE.cache/`         the stage cache (default location).
A killed run leaves at worst rows/rejects of an unfinished image (or half a line): `open_run` drops them, and the
image is redone, its finished stages coming from the cache. So a restart loses nothing and duplicates nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path


def stable_hash(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def atomic_write_text(path: Path, text: str, durable: bool = True) -> None:
    """Write via a temp file in the same directory and rename: readers see the old or the new file, never half.

    `durable=False` skips the fsync: for cache entries, where a file lost to a power cut is only a re-call.
    The file gets the user's umask like any new file (`mkstemp` would make it owner-only, 0600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StageCache:
    """Model replies on disk, one small JSON file per call, keyed by a hash of stage + model + request.

    A re-run (after a kill, or with more images) re-sends no request whose reply is already here.
    """

    def __init__(self, root: Path | None):
        self.root = root

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        if self.root is None:
            return None
        try:
            record = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # absent, or unreadable: call the model again
        reply = record.get("reply") if isinstance(record, dict) else None
        return reply if isinstance(reply, str) else None

    def put(self, key: str, stage: str, model: str, reply: str) -> None:
        if self.root is not None:
            record = {"stage": stage, "model": model, "reply": reply}
            atomic_write_text(self._path(key), json.dumps(record, ensure_ascii=False), durable=False)


def run_paths(out: Path) -> dict[str, Path]:
    stem = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.name
    return {
        "out": out,
        "rejects": out.with_name(f"{stem}.rejects.jsonl"),
        "done": out.with_name(f"{stem}.done.jsonl"),
        "summary": out.with_name(f"{stem}.summary.json"),
        "cache": out.with_name(f"{stem}.cache"),
    }


def _complete_records(path: Path) -> list[dict]:
    """The JSON records of a JSONL file; a cut last line (killed mid-write) is dropped."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _dump(records: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


class RunStore:
    """The append-only run files of one output. `open_run` repairs them; `commit` records one finished image."""

    def __init__(self, out: Path):
        self.paths = run_paths(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        self.done: dict[str, dict] = {}

    def open_run(self) -> dict[str, dict]:
        """Load the done records and drop rows/rejects of images that never finished. Returns image -> record."""
        if not self.paths["done"].exists() and any(
            self.paths[n].exists() and self.paths[n].stat().st_size for n in ("out", "rejects")
        ):  # never drop rows this pipeline did not write
            raise FileExistsError(
                f"{self.paths['out']} exists but {self.paths['done'].name} does not: it is not a resumable synthesis "
                "run; choose another --out or remove the file"
            )
        self.done = {r["image"]: r for r in _complete_records(self.paths["done"]) if isinstance(r.get("image"), str)}
        for name, key in (("out", "image_path"), ("rejects", "image")):
            path = self.paths[name]
            if path.exists():
                kept = [r for r in _complete_records(path) if r.get(key) in self.done]
                atomic_write_text(path, _dump(kept))
        atomic_write_text(self.paths["done"], _dump(self.done.values()))
        return self.done

    @staticmethod
    def _append(path: Path, records: list[dict]) -> None:
        if not records:
            return
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(_dump(records))
            handle.flush()
            os.fsync(handle.fileno())

    def commit(self, image: str, rows: list[dict], rejects: list[dict], record: dict) -> None:
        """Rows, then rejects, then the done record: the image is done only when all three are durable."""
        self._append(self.paths["out"], rows)
        self._append(self.paths["rejects"], rejects)
        record = {"image": image, **record}
        self._append(self.paths["done"], [record])
        self.done[image] = record

    def record_failure(self, rejects: list[dict]) -> None:
        """An image that failed on an endpoint error: logged now, not done, so the next run retries it."""
        self._append(self.paths["rejects"], rejects)

    def finalize(self, order: dict[str, int], summary: dict) -> None:
        """Sort rows and rejects into image order (stable within an image) and write the summary."""
        last = len(order)
        for name, key in (("out", "image_path"), ("rejects", "image")):
            path = self.paths[name]
            records = _complete_records(path)
            records.sort(key=lambda r: order.get(r.get(key), last))
            atomic_write_text(path, _dump(records))
        atomic_write_text(self.paths["summary"], json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
