"""`image_path` must resolve inside `--image-root`: `..`, absolute paths and symlinks that leave it are rejects with
a reason, and their bytes never reach the parquet; links and absolute paths that stay inside are fine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from data_prep.wethink import prepare

OUTSIDE_COLOUR = (201, 13, 77)  # a valid image outside the root, so only the containment rule can reject it


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("tree")
    root, outside = base / "images", base / "elsewhere"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    Image.new("RGB", (64, 48), (30, 30, 200)).save(root / "sub" / "inside.png")
    Image.new("RGB", (64, 48), OUTSIDE_COLOUR).save(outside / "secret.png")
    (root / "link_out.png").symlink_to(outside / "secret.png")
    (root / "dir_out").symlink_to(outside, target_is_directory=True)
    (root / "link_in.png").symlink_to(root / "sub" / "inside.png")
    return root, outside


def row(image_path: str, i: int) -> str:
    return json.dumps(
        {
            "problem": f"What colour is the picture? ({i})",
            "answer": "blue",
            "category": "short_text",
            "abilities": ["recognition"],
            "refined_cot": "It is blue.",
            "image_path": image_path,
            "reward": "rule",
        }
    )


def test_paths_that_leave_the_root_are_rejects_and_never_read(tree, tmp_path):
    root, outside = tree
    escaping = [
        "../elsewhere/secret.png",  # `..` segments
        "sub/../../elsewhere/secret.png",
        str(outside / "secret.png"),  # an absolute path elsewhere
        "/etc/passwd",  # not an image at all: must not even be opened
        "link_out.png",  # a symlink inside the root pointing out
        "dir_out/secret.png",  # a symlinked folder pointing out
    ]
    staying = ["sub/inside.png", "sub/../sub/inside.png", str(root / "sub" / "inside.png"), "link_in.png"]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(row(p, i) + "\n" for i, p in enumerate(escaping + staying)), encoding="utf-8")

    summary = prepare(
        src, root, tmp_path / "out", embed_images=True, val_size=0, max_reject_rate=1, workers=1, progress=False
    )
    assert summary["reject_reasons"] == {"image_outside_root": len(escaping)}
    assert summary["train"] == len(staying)
    rejects = [json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == list(range(1, len(escaping) + 1))
    for record, path in zip(rejects, escaping, strict=True):
        assert record["reason"] == "image_outside_root" and repr(path) in record["detail"]
        assert f"outside --image-root {os.path.realpath(root)}" in record["detail"]

    # Embedded bytes are only those of the image inside; the secret image's bytes are nowhere in the output.
    rows = pq.read_table(tmp_path / "out" / "train.parquet").to_pylist()
    inside = (root / "sub" / "inside.png").read_bytes()
    assert [entry["bytes"] for r in rows for entry in r["images"]] == [inside] * len(staying)
    secret = (outside / "secret.png").read_bytes()
    for name in ("train.parquet", "val.parquet", "rejects.jsonl", "stats.json"):
        assert secret not in (tmp_path / "out" / name).read_bytes()


def test_a_fifo_inside_the_root_is_a_reject_not_a_hang(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    os.mkfifo(root / "pipe.png")  # opening it for reading would block until a writer appears
    src = tmp_path / "in.jsonl"
    src.write_text(row("pipe.png", 0) + "\n", encoding="utf-8")
    summary = prepare(src, root, tmp_path / "out", max_reject_rate=1, workers=1, progress=False)
    [record] = [json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert summary["rejects"] == 1 and record["reason"] == "image_unreadable"
    assert "not a regular file" in record["detail"]


def test_the_image_root_itself_may_be_a_symlink(tree, tmp_path):
    root, _ = tree
    alias = tmp_path / "alias"
    alias.symlink_to(root, target_is_directory=True)
    src = tmp_path / "in.jsonl"
    src.write_text(row("sub/inside.png", 0) + "\n" + row("link_out.png", 1) + "\n", encoding="utf-8")
    summary = prepare(src, alias, tmp_path / "out", max_reject_rate=1, val_size=0, workers=1, progress=False)
    assert (summary["train"], summary["reject_reasons"]) == (1, {"image_outside_root": 1})
    [entry] = pq.read_table(tmp_path / "out" / "train.parquet").to_pylist()[0]["images"]
    assert entry["image"] == str(alias / "sub" / "inside.png")  # the path as the user laid it out
    assert Path(entry["image"]).read_bytes() == (root / "sub" / "inside.png").read_bytes()
