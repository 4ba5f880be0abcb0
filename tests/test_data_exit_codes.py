"""Honest exit codes for prepare and the SFT export: too many rejects is a failure (after writing everything, the
dominant reasons named), an empty input says so, and --embed-images over a few thousand rows warns about verl
issue #7391 and points to path references."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_prep import sft, wethink
from data_prep.wethink import EMBED_WARN_ROWS, OUTPUTS, embed_images_warning, reject_verdict

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample"
JSONL, IMAGES = SAMPLE / "wethink_sample.jsonl", SAMPLE / "images"
LINES = JSONL.read_text(encoding="utf-8").splitlines()


def args(src: Path, out: Path, *extra: str) -> list[str]:
    io = ["--jsonl", str(src), "--image-root", str(IMAGES), "--out", str(out)]
    return [*io, "--workers", "1", "--no-progress", *extra]


@pytest.fixture()
def one_in_ten_bad(tmp_path):
    """Ten rows, one whose image is missing: a 10% reject share, over the 5% default."""
    missing = json.dumps({**json.loads(LINES[0]), "image_path": "chartqa/no_such_chart.png"})
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([*LINES[:9], missing]) + "\n", encoding="utf-8")
    return src


def test_too_many_rejects_exit_1_after_writing_everything(one_in_ten_bad, tmp_path, capsys):
    out = tmp_path / "out"
    assert wethink.main(args(one_in_ten_bad, out)) == 1
    err = capsys.readouterr().err
    assert "1 of 10 rows rejected (10.0%), over --max-reject-rate 0.05" in err
    assert "mostly image_missing 1 (100% of rejects)" in err
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)  # everything written, for inspection
    stats = json.loads((out / "stats.json").read_text())["summary"]
    assert stats["reject_rate"] == 0.1 and stats["too_many_rejects"].startswith("1 of 10 rows rejected")
    assert wethink.main(args(one_in_ten_bad, out, "--overwrite", "--max-reject-rate", "0.1")) == 0  # at the limit
    assert "error" not in capsys.readouterr().err


def test_the_sft_export_counts_rejects_the_same_way(one_in_ten_bad, tmp_path, capsys):
    out = tmp_path / "sft.json"
    assert sft.main(args(one_in_ten_bad, out)) == 1
    assert "mostly image_missing 1" in capsys.readouterr().err and out.is_file()
    assert sft.main(args(one_in_ten_bad, out, "--overwrite", "--max-reject-rate", "0.2")) == 0


def test_the_verdict_names_the_dominant_reasons_in_order():
    reasons = {"bad_json": 2, "image_missing": 30, "unknown_category": 5, "blank_line": 5}
    verdict = reject_verdict(100, reasons, 0.05)
    assert "42 of 100 rows rejected (42.0%)" in verdict
    assert "mostly image_missing 30 (71% of rejects), blank_line 5 (12% of rejects), unknown_category 5" in verdict
    assert reject_verdict(100, reasons, 0.42) is None and reject_verdict(100, {}, 0) is None


@pytest.mark.parametrize("main", [wethink.main, sft.main], ids=["prepare", "sft"])
def test_an_empty_input_says_so_and_exits_1_writing_nothing(main, tmp_path, capsys):
    src = tmp_path / "empty.jsonl"
    src.write_bytes(b"")
    out = tmp_path / "out" / ("sft.json" if main is sft.main else "")
    assert main(args(src, out)) == 1
    assert f"--jsonl '{src}' is empty: no rows to read" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_embed_images_over_a_few_thousand_rows_warns_and_points_to_paths(tmp_path, capsys):
    assert embed_images_warning(EMBED_WARN_ROWS) is None
    assert "issue #7391" in embed_images_warning(EMBED_WARN_ROWS + 1)
    src = tmp_path / "big.jsonl"
    src.write_text("\n" * (EMBED_WARN_ROWS + 1), encoding="utf-8")  # as many lines; blank ones check fast
    assert wethink.main(args(src, tmp_path / "embed", "--embed-images")) == 1  # every line a reject
    err = capsys.readouterr().err
    assert f"warning: --embed-images with {EMBED_WARN_ROWS + 1} rows" in err
    assert "verl issue #7391" in err and "hundreds of GB" in err and "shared filesystem" in err
    summary = json.loads((tmp_path / "embed" / "stats.json").read_text())["summary"]
    assert summary["warnings"] and "#7391" in summary["warnings"][0]
    assert wethink.main(args(src, tmp_path / "paths")) == 1
    assert "warning" not in capsys.readouterr().err  # path references: no warning
