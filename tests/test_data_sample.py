"""The bundled sample is what its generator (examples/sample/make_sample.py, an example script outside the
installed packages) makes, byte for byte; it covers every category and both reward methods with varied raw
spellings, and stays small."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from data_prep.rows import decode_line, parse_row
from data_prep.schema import CATEGORIES, REWARD_METHODS
from tests.repo import SAMPLE

GENERATOR = SAMPLE / "make_sample.py"


def make_sample(out: Path) -> dict[Path, bytes]:
    """Run the generator as a user does (a script, from any directory); the files it wrote, by relative path."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # no __pycache__ left next to the sample
    run = subprocess.run([sys.executable, str(GENERATOR), "--out", str(out)], cwd=out.parent, env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    return {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_committed_sample_is_what_the_generator_makes_byte_for_byte(tmp_path):
    made = make_sample(tmp_path / "sample")
    committed = {p: (SAMPLE / p).read_bytes() for p in made}
    assert set(made) == {Path("wethink_sample.jsonl")} | {p.relative_to(SAMPLE) for p in SAMPLE.rglob("*.png")}
    assert [p for p in made if made[p] != committed[p]] == []


def test_generator_is_deterministic(tmp_path):
    assert make_sample(tmp_path / "a") == make_sample(tmp_path / "b")


def test_the_generator_is_not_an_installed_module():
    """An example script: nothing at run time imports it, so it is not shipped in the data_prep package."""
    assert importlib.util.find_spec("data_prep.sample") is None


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
