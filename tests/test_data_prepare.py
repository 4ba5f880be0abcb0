"""`prepare` on the bundled sample: row accounting, the parquet rows verl reads, a deterministic stratified
split (same seed same split, independent of line order, parallel equals serial), stats and the CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from data_prep.schema import CATEGORIES, DATA_SOURCE, IMAGE_PLACEHOLDER, SYSTEM_PROMPT, map_category
from data_prep.wethink import main, prepare
from tests.repo import SAMPLE

JSONL, IMAGES = SAMPLE / "wethink_sample.jsonl", SAMPLE / "images"
LINES = JSONL.read_text(encoding="utf-8").splitlines()
MIN_PX, MAX_PX = 8 * 28 * 28, 24 * 28 * 28


def rows(out: Path, split: str) -> list[dict]:
    return pq.read_table(out / f"{split}.parquet").to_pylist()


def split_of(out: Path) -> dict[str, set[str]]:
    """split -> problems (content, not line numbers, so reordered inputs compare)."""

    def key(row: dict) -> str:
        return row["extra_info"]["question"] + "|" + ",".join(row["extra_info"]["image_path"])

    return {split: {key(r) for r in rows(out, split)} for split in ("train", "val")}


@pytest.fixture(scope="module")
def path_mode(tmp_path_factory):
    out = tmp_path_factory.mktemp("path_mode")
    return prepare(JSONL, IMAGES, out, min_pixels=MIN_PX, max_pixels=MAX_PX, workers=1, progress=False), out


def test_in_equals_out_plus_rejects_on_the_sample(path_mode):
    summary, out = path_mode
    assert summary["in"] == len(LINES) == summary["train"] + summary["val"] + summary["rejects"]
    assert summary["rejects"] == 0 and (out / "rejects.jsonl").read_text() == ""
    assert len(rows(out, "train")) == summary["train"] and len(rows(out, "val")) == summary["val"]


def test_rows_are_in_verls_multimodal_format(path_mode):
    _, out = path_mode
    for split in ("train", "val"):
        for row in rows(out, split):
            raw = json.loads(LINES[row["extra_info"]["index"] - 1])  # index = JSONL line number
            system, user = row["prompt"]
            assert system == {"role": "system", "content": SYSTEM_PROMPT} and user["role"] == "user"
            assert user["content"].count(IMAGE_PLACEHOLDER) == len(row["images"])
            assert (
                user["content"].replace(IMAGE_PLACEHOLDER, "").strip()
                == raw["problem"].replace(IMAGE_PLACEHOLDER, "").strip()
            )
            paths = raw["image_path"] if isinstance(raw["image_path"], list) else [raw["image_path"]]
            assert row["images"] == [
                {"image": str((IMAGES / p).resolve()), "min_pixels": MIN_PX, "max_pixels": MAX_PX} for p in paths
            ]
            assert row["data_source"] == DATA_SOURCE
            assert row["ability"] == map_category(raw["category"]) == row["extra_info"]["category"]
            assert row["reward_model"] == {"style": raw["reward"].lower(), "ground_truth": raw["answer"]}
            info = row["extra_info"]
            assert info["split"] == split and info["reward_method"] == raw["reward"].lower()
            assert info["image_path"] == paths and info["question"] == raw["problem"].replace("<image>", "").strip()
            assert info["abilities"] == (raw["abilities"] if isinstance(raw["abilities"], list) else [raw["abilities"]])


def test_embed_mode_carries_the_image_bytes(tmp_path):
    summary = prepare(JSONL, IMAGES, tmp_path, embed_images=True, workers=1, progress=False)
    assert summary["in"] == summary["train"] + summary["val"]
    for row in rows(tmp_path, "train") + rows(tmp_path, "val"):
        for entry, rel in zip(row["images"], row["extra_info"]["image_path"], strict=True):
            assert set(entry) == {"bytes", "min_pixels", "max_pixels"}
            assert entry["bytes"] == (IMAGES / rel).read_bytes()


def test_val_covers_every_category_and_keeps_train_for_each(path_mode):
    summary, out = path_mode
    val = {r["ability"] for r in rows(out, "val")}
    train = {r["ability"] for r in rows(out, "train")}
    assert val == train == set(CATEGORIES)
    assert summary["categories_missing_from_val"] == [] and sum(summary["val_per_category"].values()) == summary["val"]


def test_same_seed_same_split_parallel_equals_serial(path_mode, tmp_path):
    _, out = path_mode
    again = prepare(JSONL, IMAGES, tmp_path, min_pixels=MIN_PX, max_pixels=MAX_PX, workers=2, progress=False)
    assert again["val"] == path_mode[0]["val"]
    for split in ("train", "val"):
        assert pq.read_table(tmp_path / f"{split}.parquet").equals(pq.read_table(out / f"{split}.parquet"))


def test_split_depends_on_content_not_line_order(path_mode, tmp_path):
    shuffled = tmp_path / "shuffled.jsonl"
    lines = list(LINES)
    random.Random(7).shuffle(lines)
    shuffled.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prepare(shuffled, IMAGES, tmp_path / "out", workers=1, progress=False)
    assert split_of(tmp_path / "out") == split_of(path_mode[1])


def test_other_seed_other_split_and_explicit_val_size(path_mode, tmp_path):
    summary = prepare(JSONL, IMAGES, tmp_path, seed=7, val_size=14, workers=1, progress=False)
    assert summary["val"] == 14 and summary["train"] == len(LINES) - 14
    assert {r["ability"] for r in rows(tmp_path, "val")} == set(CATEGORIES)
    assert split_of(tmp_path)["val"] != split_of(path_mode[1])["val"]
    assert prepare(JSONL, IMAGES, tmp_path, val_size=0, workers=1, progress=False, overwrite=True)["val"] == 0


def test_stats_json_and_chart(path_mode):
    summary, out = path_mode
    stats = json.loads((out / "stats.json").read_text())
    assert stats["summary"]["in"] == summary["in"]
    assert sum(stats["category"].values()) == stats["rows"] == summary["train"] + summary["val"]
    assert set(stats["category"]) == set(CATEGORIES) and set(stats["reward_method"]) == {"rule", "model"}
    assert set(stats["image_source"]) == {"chartqa", "geoqa", "textvqa", "clevr"}
    assert stats["images_per_row"]["2"] >= 2 and stats["visual_tokens_per_image"]["max"] <= MAX_PX // 784
    assert sum(stats["split_category"]["val"].values()) == summary["val"]
    assert sum(stats["answer_chars"]["hist_log2"].values()) == stats["rows"]
    png = (out / "stats.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_cli_runs_and_reports(tmp_path, capsys):
    args = ["--jsonl", str(JSONL), "--image-root", str(IMAGES), "--out", str(tmp_path)]
    assert main([*args, "--embed-images", "--val-size", "8", "--workers", "1", "--no-progress"]) == 0
    assert f"in={len(LINES)} = train {len(LINES) - 8} + val 8 + rejects 0" in capsys.readouterr().out
    for bad, message in [
        (["--jsonl", str(tmp_path / "missing.jsonl")], "is not a file"),
        (["--min-pixels", "100", "--max-pixels", "10"], "min_pixels <= max_pixels"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main([*args, *bad])
        assert exc.value.code == 2 and message in capsys.readouterr().err
