"""Every reject reason, each on its own line of one input file: nothing crashes, nothing is lost, every
reject names its line, keeps the raw line and says why; label maps turn unknown-label rejects into rows."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from data_prep.images import IMAGE_REJECT_REASONS
from data_prep.prompt_length import PROMPT_TOO_LONG
from data_prep.rows import REJECT_REASONS
from data_prep.wethink import main, prepare
from tests.repo import SAMPLE

SAMPLE_IMAGES = SAMPLE / "images"
GOOD = {
    "problem": "Which fruit has the most items?",
    "answer": "cherries",
    "category": "Short Text",
    "abilities": ["chart understanding"],
    "refined_cot": "Cherries reach 11.",
    "image_path": "chartqa/fruit_count.png",
    "reward": "rule",
}


def line(**changes) -> bytes:
    row = {k: v for k, v in {**GOOD, **changes}.items() if v is not ...}
    return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


# (expected reason or None for accepted, raw line bytes); the last line is cut mid-JSON, without a newline.
CASES = [
    (None, line()),
    ("not_utf8", line()[:-2] + b', "x": "caf\xe9"}\n'),
    ("blank_line", b"   \n"),
    ("bad_json", b'{"problem": "x",, }\n'),
    ("not_an_object", b"[1, 2]\n"),
    ("missing_field", line(answer=...)),
    ("missing_field", line(reward=None)),
    ("bad_field_type", line(problem=5)),
    ("bad_field_type", line(abilities={"a": 1})),
    ("empty_field", line(answer="   ")),
    ("empty_field", line(image_path=[])),
    ("unknown_category", line(category="Chart QA")),
    ("unknown_reward", line(reward="heuristic")),
    ("unknown_reward", line(reward="heuristic", problem="Another question?")),
    ("stray_placeholder", line(problem="What happens in <video>?")),
    ("stray_placeholder", line(problem="Count the <|image_pad|> tokens.")),  # a Qwen2-VL special token
    ("placeholder_mismatch", line(problem="<image><image>Compare the charts.")),
    ("image_missing", line(image_path="chartqa/no_such_chart.png")),
    ("image_unreadable", line(image_path="broken/not_an_image.png")),
    ("image_unreadable", line(image_path="broken/truncated.jpg")),
    ("image_unreadable", line(image_path="broken/truncated.png")),
    ("image_aspect_ratio", line(image_path="broken/sliver.png")),
    ("image_outside_root", line(image_path="../outside.png")),
    ("prompt_too_long", line(image_path=["chartqa/sales_2022.png"] * 8)),  # 8 x 352 visual tokens (grown to min_pixels) > 2048
    (None, line(image_path=["chartqa/sales_2022.png", "chartqa/sales_2023.png"], abilities="multi-image reasoning")),
    (None, line(answer=42, category="numerical", problem="<image>\nHow many?")),
    # Lines that stopped the whole run before (issue 26): each is a reject now, with its reason.
    ("json_too_deep", line()[:-2] + b', "extra": ' + b"[" * 1000 + b"]" * 1000 + b"}\n"),
    ("int_too_long", line()[:-2] + b', "answer": ' + b"7" * 4301 + b"}\n"),
    ("not_encodable", (json.dumps({**GOOD, "problem": "Which \ud800 fruit?"}) + "\n").encode("ascii")),
    ("not_finite", (json.dumps({**GOOD, "answer": float("nan")}) + "\n").encode("ascii")),
    ("not_finite", line()[:-2] + b', "answer": -1e400}\n'),  # a float too large: -inf
    ("prompt_too_long", line(problem="Which fruit? " + "x" * 700_000)),  # no --tokenizer: its bytes still count
    ("truncated_json", line()[:40]),
]


@pytest.fixture(scope="module")
def bad_input(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    shutil.copytree(SAMPLE_IMAGES / "chartqa", root / "chartqa")
    broken = root / "broken"
    broken.mkdir()
    (broken / "not_an_image.png").write_bytes(b"this is not a png")
    jpeg, png = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 200)).save(jpeg, "JPEG")
    Image.new("RGB", (300, 200), (10, 120, 200)).save(png, "PNG")
    (broken / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    (broken / "truncated.png").write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    Image.new("RGB", (1000, 4), (0, 0, 0)).save(broken / "sliver.png")
    Image.new("RGB", (300, 200), (10, 120, 200)).save(root.parent / "outside.png")  # a good image, but not ours
    src = root.parent / "bad.jsonl"
    src.write_bytes(b"".join(raw for _, raw in CASES))
    return src, root


@pytest.fixture(scope="module")
def prepared(bad_input, tmp_path_factory):
    src, root = bad_input
    out = tmp_path_factory.mktemp("out")
    return prepare(src, root, out, workers=1, progress=False), out


def read_rejects(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]


def test_every_reason_is_exercised_here():
    expected = set(REJECT_REASONS) | set(IMAGE_REJECT_REASONS) | {PROMPT_TOO_LONG}
    assert {reason for reason, _ in CASES if reason} == expected


def test_nothing_is_lost(prepared):
    summary, _ = prepared
    accepted = sum(reason is None for reason, _ in CASES)
    assert summary["in"] == len(CASES)
    assert summary["train"] + summary["val"] == accepted
    assert summary["rejects"] == len(CASES) - accepted
    assert summary["in"] == summary["train"] + summary["val"] + summary["rejects"]


def test_each_reject_names_its_line_reason_and_raw_text(prepared):
    _, out = prepared
    rejects = read_rejects(out)
    expected = [(n, reason) for n, (reason, _) in enumerate(CASES, start=1) if reason]
    assert [(r["line"], r["reason"]) for r in rejects] == expected
    for record in rejects:
        raw = CASES[record["line"] - 1][1]
        assert record["raw"] == raw.decode("utf-8", errors="backslashreplace").rstrip("\n")
        assert record["detail"]
    by_line = {r["line"]: r for r in rejects}
    assert "\\xe9" in by_line[2]["raw"]
    assert "'answer'" in by_line[6]["detail"] and "'reward'" in by_line[7]["detail"]
    assert "'Chart QA'" in by_line[12]["detail"] and "--category-map" in by_line[12]["detail"]
    assert "no_such_chart.png" in by_line[18]["detail"]
    assert "outside --image-root" in by_line[23]["detail"]
    assert "2816 tokens" in by_line[24]["detail"] and "--max-prompt-tokens 2048" in by_line[24]["detail"]
    assert "cut mid-JSON" in by_line[len(CASES)]["detail"]
    assert "4301 digits" in by_line[28]["detail"] and "'problem'" in by_line[29]["detail"]
    assert "'answer' is nan" in by_line[30]["detail"] and "'answer' is -inf" in by_line[31]["detail"]
    assert "text at least 2736" in by_line[32]["detail"] and "--max-prompt-tokens 2048" in by_line[32]["detail"]


def test_summary_lists_unknown_labels_with_counts(prepared):
    summary, out = prepared
    assert summary["unknown_labels"] == {"category": {"Chart QA": 1}, "reward": {"heuristic": 2}}
    assert summary["reject_reasons"]["image_unreadable"] == 3
    stats = json.loads((out / "stats.json").read_text())
    assert stats["rejects"] == summary["reject_reasons"]


def test_accepted_rows_are_normalised(prepared):
    import pyarrow.parquet as pq

    _, out = prepared
    rows = pq.read_table(out / "train.parquet").to_pylist() + pq.read_table(out / "val.parquet").to_pylist()
    by_line = {r["extra_info"]["index"]: r for r in rows}
    assert sorted(by_line) == [n for n, (reason, _) in enumerate(CASES, start=1) if reason is None]
    multi = by_line[25]
    assert multi["extra_info"]["abilities"] == ["multi-image reasoning"]
    assert multi["prompt"][1]["content"].startswith("<image><image>") and len(multi["images"]) == 2
    numeric = by_line[26]
    assert numeric["reward_model"]["ground_truth"] == "42" and numeric["ability"] == "numeric"
    assert numeric["prompt"][1]["content"] == "<image>\nHow many?"  # existing placeholder kept, not doubled
    assert numeric["extra_info"]["question"] == "How many?"


def test_label_maps_turn_unknown_labels_into_rows(bad_input, tmp_path):
    src, root = bad_input
    summary = prepare(
        src,
        root,
        tmp_path,
        workers=1,
        progress=False,
        category_map={"chart qa": "short_text"},
        reward_map={"Heuristic": "rule"},
    )
    assert summary["unknown_labels"] == {}
    assert "unknown_category" not in summary["reject_reasons"] and "unknown_reward" not in summary["reject_reasons"]
    assert summary["train"] + summary["val"] == sum(reason is None for reason, _ in CASES) + 3


def test_cli_label_maps_and_bad_map_targets(bad_input, tmp_path, capsys):
    src, root = bad_input
    args = ["--jsonl", str(src), "--image-root", str(root), "--out", str(tmp_path), "--workers", "1", "--no-progress"]
    args += ["--overwrite", "--max-reject-rate", "1"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"in={len(CASES)} = train" in printed and "unknown category 'Chart QA' on 1 row(s)" in printed
    assert main([*args, "--category-map", "Chart QA=short_text", "--reward-map", "heuristic=rule"]) == 0
    assert "unknown" not in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main([*args, "--reward-map", "heuristic=maybe"])
    assert exc.value.code == 2 and "--reward-map 'heuristic=maybe'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="category_map"):
        prepare(src, root, tmp_path, category_map={"x": "charts"}, workers=1, progress=False)
