"""Prompt length at prep time equals what verl 0.9.1's agent loop counts (its Continuous Token builder with the
tiny Qwen2.5-VL processor), over-long rows are rejects with the numbers, stats carry the distribution, and the
default limit is the recipe's. (That prep, tokenizer included, maps no torch: tests/test_data_interrupt.py.)"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import pytest
import yaml

from data_prep import schema
from data_prep.prompt_length import PATCH, smart_resize, visual_tokens
from data_prep.validate import iter_checked
from data_prep.source import reader_options
from data_prep.wethink import main, prepare
from tests.repo import CONFIG_DIR, SAMPLE, WETHINK_DATASET, compose_verl

JSONL, IMAGES = SAMPLE / "wethink_sample.jsonl", SAMPLE / "images"
LO, HI = 8 * PATCH * PATCH, 48 * PATCH * PATCH  # inside the tiny processor's own bounds (4..64 tokens)


def test_smart_resize_is_transformers_own_and_agrees_with_qwen_vl_utils():
    from qwen_vl_utils.vision_process import smart_resize as qwen_smart_resize
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize as hf_smart_resize

    ours = smart_resize()
    assert ours is not hf_smart_resize and ours.__code__.co_filename == hf_smart_resize.__code__.co_filename
    ordinary = [(240, 320), (28, 28), (4000, 3000), (1080, 1920), (500, 499), (60, 900), (37, 41)]
    slivers = [(30, 5000), (100, 1)]  # qwen_vl_utils (what verl resizes with) differs here, e.g. a 0-pixel side
    for height, width in ordinary + slivers:
        for lo, hi in [(LO, HI), (schema.DEFAULT_MIN_PIXELS, schema.DEFAULT_MAX_PIXELS), (3136, 12845056)]:
            expected = hf_smart_resize(height, width, factor=PATCH, min_pixels=lo, max_pixels=hi)
            assert ours(height, width, factor=PATCH, min_pixels=lo, max_pixels=hi) == expected
            if (height, width) in ordinary:
                assert qwen_smart_resize(height, width, factor=PATCH, min_pixels=lo, max_pixels=hi) == expected
    assert visual_tokens(320, 240, LO, HI) == 48  # 320x240 = 98 tokens, shrunk under 48
    assert visual_tokens(320, 240, schema.DEFAULT_MIN_PIXELS, schema.DEFAULT_MAX_PIXELS) == 352  # grown over 334


def test_prompt_length_equals_verls_own_count_for_every_sample_row(tiny_vl_dir, tmp_path):
    from verl.trainer.ppo.utils import create_rl_dataset
    from verl.utils import hf_processor, hf_tokenizer
    from verl.utils.tokenizer.continuous_token_wiring import create_continuous_token_builder

    from recipes.wethink.dataset import WeThinkDataset

    out = tmp_path / "prepared"
    prepare(JSONL, IMAGES, out, min_pixels=LO, max_pixels=HI, tokenizer=tiny_vl_dir, workers=1, progress=False)
    opts = reader_options(
        str(JSONL), str(IMAGES), embed_images=False, min_pixels=LO, max_pixels=HI, reward_map=None,
        category_map=None, measure_prompt=True, tokenizer=tiny_vl_dir,
    )  # fmt: skip
    ours = {c.lineno: c.prompt for c in iter_checked(str(JSONL), opts, workers=1, progress=False)}

    data_config = compose_verl(*WETHINK_DATASET).data
    tokenizer, processor = hf_tokenizer(tiny_vl_dir), hf_processor(tiny_vl_dir)
    files = [str(out / "train.parquet"), str(out / "val.parquet")]
    dataset = create_rl_dataset(files, data_config, tokenizer, processor, is_train=True)
    builder = create_continuous_token_builder(
        tokenizer, hf_model_type="qwen2_5_vl", chat_template_kwargs={}, mm_processor_kwargs={}, processor=processor
    )
    assert len(dataset) == len(ours)
    for i in range(len(dataset)):  # what SingleTurnAgentLoop does before it compares with rollout.prompt_length
        item = dataset[i]
        messages = list(item["raw_prompt"])
        images, _, _ = asyncio.run(
            WeThinkDataset.process_multi_modal_info(messages, image_patch_size=14, config=data_config)
        )
        verl_ids = builder.build_initial_tokens(messages, images=images)
        prompt = ours[item["extra_info"]["index"]]
        assert prompt.total == len(verl_ids), (i, prompt)
        assert prompt.text is not None and prompt.visual == tuple(im.width * im.height // PATCH**2 for im in images)


def test_over_long_rows_are_rejects_with_their_numbers_and_stats_show_the_distribution(tiny_vl_dir, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--jsonl", str(JSONL), "--image-root", str(IMAGES), "--out", str(out), "--workers", "1", "--no-progress"]
    limit = ["--min-pixels", str(LO), "--max-pixels", str(HI), "--tokenizer", tiny_vl_dir, "--max-prompt-tokens", "150"]
    assert main([*argv, *limit, "--max-reject-rate", "1"]) == 0
    rejects = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert rejects and {r["reason"] for r in rejects} == {"prompt_too_long"}
    for record in rejects:  # e.g. "prompt is 166 tokens (text 118 + visual 48 for 1 image(s)) > ... 150"
        detail = record["detail"]
        text, visual = map(int, re.search(r"\(text (\d+) \+ visual (\d+) for", detail).groups())
        assert f"prompt is {text + visual} tokens" in detail and text + visual > 150
        assert "> --max-prompt-tokens 150" in detail and "image(s)" in detail
    stats = json.loads((out / "stats.json").read_text())
    tokens = stats["prompt_tokens"]
    assert tokens["text_counted"] is True and tokens["max_prompt_tokens"] == 150
    assert tokens["n"] == stats["rows"] == 40 - len(rejects) and tokens["max"] <= 150 < tokens["max"] + 96
    assert sum(tokens["hist_log2"].values()) == tokens["n"]
    assert "prompt tokens (text + visual): p50" in capsys.readouterr().out

    # Without a tokenizer only the visual part is known: nothing here is over the limit on that alone.
    assert main([*argv, *limit[:4], "--max-prompt-tokens", "150", "--overwrite"]) == 0
    tokens = json.loads((out / "stats.json").read_text())["prompt_tokens"]
    assert tokens["text_counted"] is False and tokens["max"] == 96 and tokens["n"] == 40
    assert "visual only: pass --tokenizer" in capsys.readouterr().out


def test_the_default_limit_is_the_recipes_max_prompt_length():
    config = yaml.safe_load((CONFIG_DIR / "wethink_grpo.yaml").read_text())
    assert schema.DEFAULT_MAX_PROMPT_TOKENS == config["data"]["max_prompt_length"]
    assert (schema.DEFAULT_MIN_PIXELS, schema.DEFAULT_MAX_PIXELS) == (
        config["data"]["min_pixels"],
        config["data"]["max_pixels"],
    )


def test_a_tokenizer_that_is_not_a_local_qwen_vl_directory_is_a_usage_error(tmp_path, capsys):
    argv = ["--jsonl", str(JSONL), "--image-root", str(IMAGES), "--out", str(tmp_path / "o"), "--no-progress"]
    for tokenizer, message in [
        (tmp_path / "nowhere", "is not a directory"),
        (tmp_path, "no tokenizer.json in it"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main([*argv, "--tokenizer", str(tokenizer)])
        assert exc.value.code == 2 and message in capsys.readouterr().err
