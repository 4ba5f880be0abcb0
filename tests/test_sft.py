"""SFT export: LLaMA-Factory sharegpt JSON and verl's SFT parquet, the latter read by verl 0.9.1's own
MultiTurnSFTDataset with the tiny Qwen2.5-VL processor (loss on the assistant turn only, image tokens
matching image features)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from data_prep.schema import SYSTEM_PROMPT
from data_prep.sft import export_sft, main, response_text
from tests.repo import SAMPLE

JSONL, IMAGES = SAMPLE / "wethink_sample.jsonl", SAMPLE / "images"
N_SAMPLE = sum(1 for _ in open(JSONL, encoding="utf-8"))
PATCH = 28


@pytest.mark.parametrize(
    "cot",
    [
        "x = 5 because 3-4-5.",
        "<think>x = 5 because 3-4-5.</think>",
        "<think>x = 5 because 3-4-5.</think><answer>5</answer>",
        "<think>\nx = 5 because 3-4-5.\n</think>\n<answer>7</answer>",  # the row's answer is the label
        "x = 5 because 3-4-5. <answer>5",  # unclosed answer block
        "<think>x = 5 because 3-4-5.",  # unclosed think
    ],
)
def test_response_wraps_once(cot):
    assert response_text(cot, "5") == "<think>x = 5 because 3-4-5.</think><answer>5</answer>"


def test_llamafactory_export(tmp_path):
    out = tmp_path / "wethink_sft.json"
    summary = export_sft(JSONL, IMAGES, out, fmt="llamafactory", workers=1, progress=False)
    assert summary["in"] == summary["out"] == N_SAMPLE and summary["rejects"] == 0
    records = json.loads(out.read_text(encoding="utf-8"))
    assert len(records) == N_SAMPLE
    for record in records:
        human, gpt = record["conversations"]
        assert (human["from"], gpt["from"]) == ("human", "gpt") and record["system"] == SYSTEM_PROMPT
        assert human["value"].count("<image>") == len(record["images"]) >= 1
        assert all(Path(p).is_absolute() and Path(p).is_file() for p in record["images"])
        value = gpt["value"]
        assert value.startswith("<think>") and value.count("<think>") == value.count("</think>") == 1
        assert value.count("<answer>") == value.count("</answer>") == 1 and value.endswith("</answer>")
    info = summary["llamafactory_dataset_info"]["wethink_sft"]
    assert info["file_name"] == "wethink_sft.json" and info["columns"]["messages"] == "conversations"


@pytest.mark.parametrize("embed", [False, True], ids=["paths", "embedded"])
def test_verl_sft_parquet_loads_in_verls_multiturn_sft_dataset(tmp_path, tiny_vl_dir, embed):
    from verl.utils import hf_processor, hf_tokenizer
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    out = tmp_path / "sft.parquet"
    lo, hi = 8 * PATCH * PATCH, 24 * PATCH * PATCH
    summary = export_sft(
        JSONL, IMAGES, out, fmt="verl", embed_images=embed, min_pixels=lo, max_pixels=hi, workers=1, progress=False
    )
    assert summary["out"] == N_SAMPLE
    tokenizer, processor = hf_tokenizer(tiny_vl_dir), hf_processor(tiny_vl_dir)
    dataset = MultiTurnSFTDataset(
        str(out), tokenizer, {"max_length": 4096, "pad_mode": "no_padding", "truncation": "error"}, processor
    )
    assert len(dataset) == N_SAMPLE
    image_token = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    for i in (0, 12, len(dataset) - 1):  # single image, two images, two images
        item = dataset[i]
        ids, mask = item["input_ids"], item["loss_mask"]
        trained = tokenizer.decode(ids[mask.bool()])
        assert trained.startswith("<think>") and "</think><answer>" in trained and "</answer><|im_end|>" in trained
        assert SYSTEM_PROMPT not in trained and SYSTEM_PROMPT in tokenizer.decode(ids)
        grid = item["multi_modal_inputs"]["image_grid_thw"]
        assert grid.shape[0] == (1 if i == 0 else 2)
        assert int((ids == image_token).sum()) == int(grid.prod(dim=-1).sum()) // 4
        assert all(lo <= int(h) * int(w) * 14 * 14 <= hi for _, h, w in grid.tolist())
        assert int((mask == 1).sum()) > 0 and torch.all(mask[ids == image_token] == 0)


def test_sft_rejects_rows_without_reasoning_keeping_the_raw_line(tmp_path):
    good = json.loads(JSONL.read_text(encoding="utf-8").splitlines()[0])
    lines = [json.dumps(good), json.dumps({**good, "refined_cot": "<think> </think><answer>B</answer>"})]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "sft.json"
    summary = export_sft(src, IMAGES, out, workers=1, progress=False)
    assert (summary["in"], summary["out"], summary["rejects"]) == (2, 1, 1)
    (reject,) = [json.loads(x) for x in (tmp_path / "sft.rejects.jsonl").read_text().splitlines()]
    assert reject["line"] == 2 and reject["reason"] == "empty_field" and "refined_cot" in reject["detail"]
    assert reject["raw"] == lines[1]


def test_cli_format_follows_the_extension_and_a_contradiction_is_an_error(tmp_path, capsys):
    import pyarrow.parquet as pq

    base = ["--jsonl", str(JSONL), "--image-root", str(IMAGES), "--workers", "1", "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "sft.parquet")]) == 0  # no --format: verl, from .parquet
    assert f"in={N_SAMPLE} = out {N_SAMPLE} + rejects 0" in capsys.readouterr().out
    assert pq.read_schema(tmp_path / "sft.parquet").names == ["messages", "images"]
    assert main([*base, "--out", str(tmp_path / "lf.json")]) == 0  # llamafactory, from .json
    assert len(json.loads((tmp_path / "lf.json").read_text(encoding="utf-8"))) == N_SAMPLE
    capsys.readouterr()
    for extra, message in [
        (["--out", str(tmp_path / "x.parquet"), "--format", "llamafactory"], "--format llamafactory contradicts"),
        (["--out", str(tmp_path / "x.json"), "--format", "verl"], "extension .json means --format llamafactory"),
        (["--out", str(tmp_path / "x.data")], "cannot tell the format from '.data'"),
        (["--out", str(tmp_path / "x.json"), "--embed-images"], "--embed-images applies to --format verl only"),
        (["--out", str(tmp_path / "sft.parquet")], "pass --overwrite"),  # an earlier export is never replaced
    ]:
        with pytest.raises(SystemExit) as exc:
            main([*base, *extra])
        assert exc.value.code == 2 and message in capsys.readouterr().err, extra
    written = ["lf.json", "lf.rejects.jsonl", "sft.parquet", "sft.rejects.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == written  # refused runs wrote nothing
    assert main([*base, "--out", str(tmp_path / "x.data"), "--format", "verl"]) == 0  # unknown extension: --format
    assert main([*base, "--out", str(tmp_path / "sft.parquet"), "--overwrite"]) == 0
