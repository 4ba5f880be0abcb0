"""Image checks and the per-image entries verl's `RLHFDataset._build_messages` reads.

Why check at prep time: a missing, truncated or absurdly shaped image crashes a dataloader worker or a
rollout hours into training. Here it becomes a reject with a reason instead.
"""

from __future__ import annotations

import functools
import io
import os
import stat
import warnings
from dataclasses import dataclass

from PIL import Image

from data_prep.rows import Reject

IMAGE_MISSING = "image_missing"
IMAGE_UNREADABLE = "image_unreadable"
IMAGE_ASPECT_RATIO = "image_aspect_ratio"
IMAGE_OUTSIDE_ROOT = "image_outside_root"
IMAGE_REJECT_REASONS = (IMAGE_MISSING, IMAGE_UNREADABLE, IMAGE_ASPECT_RATIO, IMAGE_OUTSIDE_ROOT)

# qwen_vl_utils.smart_resize refuses images whose long side exceeds 200x the short side.
MAX_ASPECT_RATIO = 200


@dataclass(frozen=True)
class ImageInfo:
    """A checked image: where it is, what it is, and (embed mode only) its file bytes."""

    rel_path: str  # as written in the JSONL
    abs_path: str
    width: int
    height: int
    data: bytes | None = None


def resolve(image_root: str, rel_path: str) -> str:
    """Absolute path of an `image_path` under the image root (an absolute `image_path` stays as it is)."""
    return os.path.abspath(os.path.join(image_root, rel_path))


@functools.lru_cache(maxsize=8)
def _real_root(image_root: str) -> str:
    return os.path.realpath(image_root)  # once per run, not once per image


def inside_root(image_root: str, rel_path: str) -> tuple[str, str]:
    """(absolute path, real path) of an `image_path`, or Reject when it resolves outside the image root.

    Why: the JSONL is data, not trusted configuration. `..` segments, absolute paths and symlinks must not make
    prep open (or, with --embed-images, copy into the parquet) files elsewhere on the machine.
    """
    try:
        path = resolve(image_root, rel_path)
        real, root = os.path.realpath(path), _real_root(image_root)
    except ValueError as err:  # e.g. an embedded NUL byte
        raise Reject(IMAGE_UNREADABLE, f"image {rel_path!r} is not a usable path: {err}") from None
    if os.path.commonpath([real, root]) != root:
        raise Reject(IMAGE_OUTSIDE_ROOT, f"image {rel_path!r} resolves to {real}, outside --image-root {root}")
    return path, real


def check_image(image_root: str, rel_path: str, *, keep_bytes: bool = False) -> ImageInfo:
    """Open, verify and decode one image (JPEG at 1/8 scale, which still reads every byte).

    `verify()` alone misses truncated JPEGs, so a cheap draft decode follows it. Only regular files inside the
    image root are opened (a FIFO would block the worker forever).
    """
    path, real = inside_root(image_root, rel_path)
    try:
        if not stat.S_ISREG(os.stat(real).st_mode):
            raise Reject(IMAGE_UNREADABLE, f"image {rel_path!r} at {path} is not a regular file")
        with open(real, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise Reject(IMAGE_MISSING, f"image {rel_path!r} not found at {path}") from None
    except OSError as err:
        raise Reject(IMAGE_UNREADABLE, f"image {rel_path!r} cannot be read: {err.strerror or err}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if img.format == "JPEG":
                    img.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                img.load()
    except Exception as err:  # PIL raises many types on malformed files; all mean "unusable image"
        raise Reject(IMAGE_UNREADABLE, f"image {rel_path!r} is not a readable image: {err}") from None
    if min(width, height) < 1 or max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise Reject(
            IMAGE_ASPECT_RATIO, f"image {rel_path!r} is {width}x{height}: aspect ratio over {MAX_ASPECT_RATIO}"
        )
    return ImageInfo(rel_path, path, width, height, data if keep_bytes else None)


def image_entry(info: ImageInfo, min_pixels: int, max_pixels: int) -> dict:
    """The parquet struct for one image: `{image: path}` or `{bytes}` plus its pixel bounds.

    Path mode carries no `bytes` key at all: verl opens any dict with a `bytes` key as bytes, even None.
    """
    bounds = {"min_pixels": int(min_pixels), "max_pixels": int(max_pixels)}
    if info.data is not None:
        return {"bytes": info.data, **bounds}
    return {"image": info.abs_path, **bounds}


def source_folder(rel_path: str) -> str:
    """First path component of an `image_path` (the LLaVA-CoT source dataset, e.g. 'chartqa')."""
    parts = [p for p in rel_path.replace("\\", "/").split("/") if p not in ("", ".")]
    return parts[0] if len(parts) > 1 else "(root)"
