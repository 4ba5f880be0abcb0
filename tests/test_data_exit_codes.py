"""Honest exit codes for prepare and the SFT export: too many rejects is a failure (after writing everything, the
dominant reasons named), an empty input says so, and --embed-images over a few thousand rows warns about verl
issue #7391 and points to path references."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_prep import sft, wethink
from data_prep.source import reject_verdict
from data_prep.wethink import EMBED_WARN_ROWS, OUTPUTS, embed_images_warning
from tests.repo import SAMPLE

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


# --- issue 26: one bad line never loses a run; exit status 2 means the arguments, nothing else -----------------

HOSTILE = [  # (reason, line): valid enough to read, but each of these stopped the whole run before
    ("json_too_deep", LINES[0][:-1] + ', "extra": ' + "[" * 1000 + "]" * 1000 + "}"),
    ("int_too_long", LINES[0][:-1] + ', "extra": ' + "9" * 5000 + "}"),
    ("not_encodable", json.dumps({**json.loads(LINES[0]), "refined_cot": "fine \ud800 reasoning"})),
    ("not_finite", json.dumps({**json.loads(LINES[0]), "answer": float("inf")})),
]


@pytest.mark.parametrize("main", [wethink.main, sft.main], ids=["prepare", "sft"])
def test_no_line_stops_a_run_whatever_its_bytes(main, tmp_path, capsys):
    src = tmp_path / "hostile.jsonl"
    src.write_text("\n".join(LINES[:6] + [line for _, line in HOSTILE]) + "\n", encoding="ascii")
    out = tmp_path / ("sft.json" if main is sft.main else "out")
    assert main(args(src, out, "--max-reject-rate", "1")) == 0, capsys.readouterr().err[-2000:]
    rejects = out.parent / "sft.rejects.jsonl" if main is sft.main else out / "rejects.jsonl"
    records = [json.loads(x) for x in rejects.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["reason"]) for r in records] == [(7 + i, reason) for i, (reason, _) in enumerate(HOSTILE)]
    printed = capsys.readouterr().out
    assert ("in=10 = out 6 + rejects 4" if main is sft.main else "in=10 = train") in printed


def test_exit_status_2_is_for_bad_arguments_only(tmp_path, monkeypatch, capsys):
    """A ValueError while rows are written is the run failing (status 1, its traceback), not a usage error: before,
    any ValueError (a lone surrogate reaching the parquet writer) printed the usage and exited 2."""
    with pytest.raises(SystemExit) as bad_argument:  # the control: an argument still exits 2, with the usage
        wethink.main(args(JSONL, tmp_path / "a", "--max-reject-rate", "2"))
    assert bad_argument.value.code == 2 and "usage:" in capsys.readouterr().err

    def failing_row(*_args, **_kwargs):
        raise ValueError("the writer failed")

    monkeypatch.setattr(wethink, "rl_row", failing_row)
    with pytest.raises(ValueError, match="the writer failed"):
        wethink.main(args(JSONL, tmp_path / "b"))
    assert not (tmp_path / "b" / "train.parquet").exists()


def test_a_check_that_raises_rejects_its_line_and_the_run_goes_on(tmp_path, monkeypatch):
    """Whatever a check raises besides its own rejects (a bug, an input nothing foresaw), the line is a reject."""
    from data_prep import validate

    real = validate.check_image

    def fragile(root, rel_path, **kw):
        if rel_path == json.loads(LINES[1])["image_path"]:
            raise RuntimeError("a check nobody foresaw")
        return real(root, rel_path, **kw)

    monkeypatch.setattr(validate, "check_image", fragile)
    hit = [n for n, text in enumerate(LINES, 1) if json.loads(text)["image_path"] == json.loads(LINES[1])["image_path"]]
    summary = wethink.prepare(JSONL, IMAGES, tmp_path / "out", workers=1, progress=False, max_reject_rate=1)
    assert summary["reject_reasons"] == {validate.CHECK_FAILED: len(hit)} and len(hit) < len(LINES)
    assert summary["in"] == len(LINES) == summary["train"] + summary["val"] + len(hit)
    records = [json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in records] == hit
    assert all("RuntimeError: a check nobody foresaw" in r["detail"] for r in records)
