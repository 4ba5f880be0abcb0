"""Find the images of a collection, reject the bad ones with a reason, and encode the good ones for a chat call.

An image is sent as an OpenAI `image_url` part holding a base64 data URL. JPEG/PNG/WebP/GIF go as their own
bytes (no quality loss); other formats, or images above `max_pixels`, are re-encoded as PNG so every
OpenAI-compatible server can read them. The content digest keys the stage cache, so renaming a file does not
re-call the models.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
_SENT_AS_IS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


class BadImage(ValueError):
    """An image file that cannot be used: empty, unreadable, or not an image. The message says which."""


@dataclass(frozen=True)
class EncodedImage:
    rel_path: str  # POSIX path relative to the collection root: the row's `image_path`
    digest: str  # sha256 of the bytes sent
    data_url: str
    width: int
    height: int

    def part(self) -> dict:
        """The OpenAI chat content part for this image."""
        return {"type": "image_url", "image_url": {"url": self.data_url}}


def discover(root: Path) -> list[str]:
    """Relative POSIX paths of files with an image suffix under `root`, sorted so runs are reproducible."""
    if not root.is_dir():
        raise FileNotFoundError(f"--images {root}: not a directory")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith("."):
                found.append((Path(dirpath) / name).relative_to(root).as_posix())
    return sorted(found)


def _resize(image: Image.Image, max_pixels: int) -> Image.Image:
    scale = math.sqrt(max_pixels / (image.width * image.height))
    size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC)


def load(root: Path, rel_path: str, max_pixels: int = 0) -> EncodedImage:
    """Read, check and encode one image. Raises BadImage naming the file and the problem.

    Only regular files inside `root` are read: a symlink leading out of it would send another file's bytes to a
    remote model, and a FIFO would block forever."""
    path = root / rel_path
    try:
        real, real_root = path.resolve(), root.resolve()
        if not real.is_relative_to(real_root):
            raise BadImage(f"resolves to {real}, outside --images {real_root}")
        if real.exists() and not real.is_file():
            raise BadImage("not a regular file")
        data = real.read_bytes()
    except OSError as exc:
        raise BadImage(f"unreadable: {exc.strerror or type(exc).__name__}") from None
    if not data:
        raise BadImage("empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()  # catches truncated / corrupt files that open() alone accepts
        image = Image.open(io.BytesIO(data))
        image.load()
    except UnidentifiedImageError:
        raise BadImage("not a readable image: format not recognised") from None
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise BadImage(f"not a readable image: {exc}") from None
    if image.width == 0 or image.height == 0:
        raise BadImage(f"zero-size image {image.width}x{image.height}")
    mime = _SENT_AS_IS.get(image.format or "")
    if mime is None or (max_pixels and image.width * image.height > max_pixels):
        if max_pixels and image.width * image.height > max_pixels:
            image = _resize(image, max_pixels)
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data, mime = buffer.getvalue(), "image/png"
    encoded = base64.b64encode(data).decode("ascii")
    return EncodedImage(
        rel_path=rel_path,
        digest=hashlib.sha256(data).hexdigest(),
        data_url=f"data:{mime};base64,{encoded}",
        width=image.width,
        height=image.height,
    )
