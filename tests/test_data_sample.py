"""The bundled sample is what the generator makes, covers every category and both reward methods with
varied raw spellings, and stays small."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from data_prep.rows import decode_line, parse_row
from data_prep.sample import main
from data_prep.schema import CATEGORIES, REWARD_METHODS

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample"


def test_committed_sample_matches_the_generator(tmp_path):
    assert main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "wethink_sample.jsonl").read_text() == (SAMPLE / "wethink_sample.jsonl").read_text()
    made = sorted(p.relative_to(tmp_path) for p in (tmp_path / "images").rglob("*.png"))
    assert made == sorted(p.relative_to(SAMPLE) for p in (SAMPLE / "images").rglob("*.png"))


def test_generator_is_deterministic(tmp_path):
    main(["--out", str(tmp_path / "a")])
    main(["--out", str(tmp_path / "b")])
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()


def test_sample_covers_the_schema_with_realistic_labels():
    lines = (SAMPLE / "wethink_sample.jsonl").read_text(encoding="utf-8").splitlines()
    raw = [json.loads(x) for x in lines]
    rows = [parse_row(decode_line(x.encode())) for x in lines]
    assert 30 <= len(rows) <= 48
    assert {r.category for r in rows} == set(CATEGORIES)
    assert {r.reward_method for r in rows} == set(REWARD_METHODS)
    assert all(r.reward_method == "model" for r in rows if r.category == "descriptive")
    assert len({r["category"] for r in raw}) >= 12  # varied spellings of the same categories
    assert any(isinstance(r["image_path"], list) for r in raw) and any(isinstance(r["abilities"], str) for r in raw)
    assert all(r.refined_cot and r.answer for r in rows)


def test_images_are_small_real_pngs():
    paths = list((SAMPLE / "images").rglob("*.png"))
    assert sum(p.stat().st_size for p in paths) < 1_000_000
    for path in paths:
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            assert img.format == "PNG" and min(img.size) >= 28
