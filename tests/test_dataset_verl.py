"""The prepared sample loaded by verl 0.9.1's own loader with `WeThinkDataset`, then through the rollout's
prompt path (the dataset's `process_multi_modal_info` + the processor with the chat template) into a real
tiny Qwen2.5-VL forward, which refuses a prompt whose image tokens do not match its image features."""

from __future__ import annotations

import asyncio
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from data_prep.parquet import rl_schema
from data_prep.schema import CATEGORIES, DATA_SOURCE, DEFAULT_MAX_PIXELS, SYSTEM_PROMPT
from data_prep.wethink import prepare
from recipes.wethink.dataset import WeThinkDataset, pixel_bounds, with_system_prompt
from tests.repo import SAMPLE, WETHINK_DATASET, compose_verl

PATCH = 28
DATA_MIN, DATA_MAX = 8 * PATCH * PATCH, 24 * PATCH * PATCH  # what the recipe yaml would set
ENTRY_MIN, ENTRY_MAX = 6 * PATCH * PATCH, 12 * PATCH * PATCH  # what prepare writes into each entry


def data_config(extra: list[str] = ()):
    """verl's real `ppo_trainer` data config with the custom dataset class, composed by hydra."""
    return compose_verl(
        *WETHINK_DATASET,
        "data.max_prompt_length=4096",
        "data.filter_overlong_prompts=True",  # runs verl's own processor pass over every row
        # in-process: datasets forks a pool for any num_proc >= 1, and a fork after torch ran can hang
        "data.filter_overlong_prompts_workers=null",
        *extra,
    ).data


@pytest.fixture(scope="module")
def tiny(tiny_vl_dir):
    from verl.utils import hf_processor, hf_tokenizer

    return hf_tokenizer(tiny_vl_dir), hf_processor(tiny_vl_dir)


@pytest.fixture(scope="module")
def tiny_model(tiny_vl_dir):
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(tiny_vl_dir, dtype=torch.float32).eval()


@pytest.fixture(scope="module", params=["path", "embed"])
def prepared(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"prep_{request.param}")
    summary = prepare(
        SAMPLE / "wethink_sample.jsonl",
        SAMPLE / "images",
        out,
        embed_images=request.param == "embed",
        min_pixels=ENTRY_MIN,
        max_pixels=ENTRY_MAX,
        workers=1,
        progress=False,
    )
    return request.param, out, summary


def load(files, cfg, tiny):
    from verl.trainer.ppo.utils import create_rl_dataset

    tokenizer, processor = tiny
    return create_rl_dataset([str(f) for f in files], cfg, tokenizer, processor, is_train=True)


def rollout_inputs(dataset_cls, row, cfg, processor):
    """What verl's SingleTurnAgentLoop does before it calls the inference server."""
    from verl.utils.tokenizer import build_multimodal_processor_inputs

    messages = list(row["raw_prompt"])
    patch = processor.image_processor.patch_size
    images, videos, _ = asyncio.run(dataset_cls.process_multi_modal_info(messages, image_patch_size=patch, config=cfg))
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return images, build_multimodal_processor_inputs(processor, text=[text], images=images, videos=videos)


def text_of(message) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(i["text"] for i in content if i["type"] == "text")


def user_items(row):
    user = [m for m in row["raw_prompt"] if m["role"] == "user"]
    assert len(user) == 1
    return user[0]["content"]


def test_verl_loads_the_custom_class_and_keeps_every_row(prepared, tiny):
    _, out, summary = prepared
    dataset = load([out / "train.parquet", out / "val.parquet"], data_config(), tiny)
    assert type(dataset) is WeThinkDataset
    assert len(dataset) == summary["train"] + summary["val"] == summary["in"]  # nothing filtered as too long


def test_raw_prompt_has_system_prompt_question_and_images(prepared, tiny):
    mode, out, _ = prepared
    dataset = load([out / "train.parquet"], data_config(), tiny)
    for i in range(len(dataset)):
        row = dataset[i]
        system = row["raw_prompt"][0]
        assert system["role"] == "system" and text_of(system) == SYSTEM_PROMPT
        assert sum(m["role"] == "system" for m in row["raw_prompt"]) == 1
        items = user_items(row)
        images = [it for it in items if it["type"] == "image"]
        text = text_of({"content": items})
        info = row["extra_info"]
        assert len(images) == len(info["image_path"]) >= 1
        assert " ".join(info["question"].split()) in " ".join(text.split())
        assert info["category"] in CATEGORIES and info["category"] == row["ability"]
        assert info["reward_method"] in ("rule", "model") and info["reward_method"] == row["reward_model"]["style"]
        assert row["data_source"] == DATA_SOURCE and row["reward_model"]["ground_truth"]
        for item in images:
            assert (item["min_pixels"], item["max_pixels"]) == (ENTRY_MIN, ENTRY_MAX)  # no data.* bounds set
            if mode == "path":
                assert "bytes" not in item and os.path.isabs(item["image"]) and os.path.isfile(item["image"])
            else:
                assert isinstance(item["bytes"], bytes) and item["image"].size[0] > 0


@pytest.mark.parametrize("config_bounds", [False, True], ids=["entry_bounds", "data_config_bounds"])
def test_rollout_path_obeys_bounds_and_matches_image_tokens(prepared, tiny, tiny_model, config_bounds):
    _, out, _ = prepared
    extra = [f"+data.min_pixels={DATA_MIN}", f"+data.max_pixels={DATA_MAX}"] if config_bounds else []
    lo, hi = (DATA_MIN, DATA_MAX) if config_bounds else (ENTRY_MIN, ENTRY_MAX)
    cfg = data_config(extra)
    dataset = load([out / "train.parquet", out / "val.parquet"], cfg, tiny)
    _, processor = tiny
    image_token = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    merge = processor.image_processor.merge_size
    forwarded = set()
    for i in range(len(dataset)):
        row = dataset[i]
        images, inputs = rollout_inputs(WeThinkDataset, row, cfg, processor)
        assert len(images) == len(row["extra_info"]["image_path"])
        for image in images:
            assert lo <= image.width * image.height <= hi
            assert image.width % PATCH == 0 and image.height % PATCH == 0
        grid = inputs["image_grid_thw"]
        n_features = int(grid.prod(dim=-1).sum()) // merge**2
        assert int((inputs["input_ids"] == image_token).sum()) == n_features
        assert inputs["pixel_values"].shape[0] == int(grid.prod(dim=-1).sum())
        n_images = len(images)
        if n_images not in forwarded:  # one single-image and one multi-image prompt through the real model
            with torch.no_grad():
                logits = tiny_model(**{k: v for k, v in inputs.items() if k != "mm_token_type_ids"}).logits
            assert logits.shape[:2] == inputs["input_ids"].shape and torch.isfinite(logits).all()
            forwarded.add(n_images)
    assert forwarded == {1, 2}


def test_collate_batches_rows_like_the_trainer(prepared, tiny):
    from verl.utils.dataset.rl_dataset import collate_fn

    _, out, _ = prepared
    dataset = load([out / "train.parquet"], data_config(), tiny)
    batch = collate_fn([dataset[0], dataset[1], dataset[2]])
    assert batch["dummy_tensor"].shape == (3, 1)
    assert len(batch["raw_prompt"]) == 3 and len(batch["extra_info"]) == 3


def test_rows_from_elsewhere_get_system_prompt_bounds_and_reward_fields(tmp_path, tiny):
    """A verl-format row written by another tool: no system turn, a bare path image, sparse extra_info."""
    image = str(SAMPLE / "images" / "chartqa" / "fruit_count.png")
    schema = pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", rl_schema(False).field("prompt").type),
            ("images", pa.list_(pa.string())),
            ("ability", pa.string()),
            ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
            ("extra_info", pa.struct([("index", pa.int64())])),
        ]
    )
    rows = [
        {
            "data_source": "other",
            "prompt": [{"role": "user", "content": "<image>How many bananas?"}],
            "images": [image],
            "ability": "numeric",
            "reward_model": {"style": "rule", "ground_truth": "4"},
            "extra_info": {"index": 0},
        },
        {
            "data_source": "other",
            "prompt": [{"role": "user", "content": "<image>Describe the chart."}],
            "images": [image],
            "ability": "descriptive",
            "reward_model": {"style": "other", "ground_truth": "bars"},
            "extra_info": {"index": 1},
        },
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp_path / "other.parquet")
    cfg = data_config([f"+data.max_pixels={DATA_MAX}"])
    dataset = load([tmp_path / "other.parquet"], cfg, tiny)
    first, second = dataset[0], dataset[1]
    assert first["raw_prompt"][0]["role"] == "system" and text_of(first["raw_prompt"][0]) == SYSTEM_PROMPT
    assert first["extra_info"] == {
        "index": 0,
        "question": "How many bananas?",
        "category": "numeric",
        "reward_method": "rule",
    }
    assert second["extra_info"]["reward_method"] == "model"  # unknown style: descriptive goes to the judge
    item = user_items(first)[0]
    assert item["image"] == image and item["max_pixels"] == DATA_MAX
    images, _ = rollout_inputs(WeThinkDataset, first, cfg, tiny[1])
    assert images[0].width * images[0].height <= DATA_MAX


def test_system_prompt_is_added_once_and_never_doubled():
    user = {"role": "user", "content": "q"}
    once = with_system_prompt([user])
    assert once == [{"role": "system", "content": SYSTEM_PROMPT}, user]
    assert with_system_prompt(once) == once
    custom = with_system_prompt([{"role": "system", "content": "Be brief."}, user])
    assert custom[0]["content"] == f"{SYSTEM_PROMPT}\nBe brief." and len(custom) == 2
    assert with_system_prompt(custom) == custom


def test_pixel_bounds_prefer_config_then_entry_then_defaults_and_clamp():
    assert pixel_bounds({"min_pixels": 10, "max_pixels": 20}, {"min_pixels": 1, "max_pixels": 2}) == (10, 20)
    assert pixel_bounds({}, {"min_pixels": 1, "max_pixels": 2}) == (1, 2)
    assert pixel_bounds(None, None)[1] == DEFAULT_MAX_PIXELS
    assert pixel_bounds({"max_pixels": 100}, {"min_pixels": 500}) == (100, 100)  # min clamped to max


def test_tiny_model_generates_from_a_prepared_multimodal_prompt(prepared, tiny, tiny_model):
    """The tiny checkpoint the GRPO-step test relies on: `generate` with images runs on CPU."""
    _, out, _ = prepared
    cfg = data_config()
    dataset = load([out / "val.parquet"], cfg, tiny)
    _, inputs = rollout_inputs(WeThinkDataset, dataset[0], cfg, tiny[1])
    prompt_len = inputs["input_ids"].shape[1]
    with torch.no_grad():
        generated = tiny_model.generate(**inputs, max_new_tokens=6, do_sample=True, top_k=20)
    assert prompt_len < generated.shape[1] <= prompt_len + 6  # may stop early at EOS
    assert torch.equal(generated[0, :prompt_len], inputs["input_ids"][0])


@pytest.mark.parametrize("keep, expected", [(["rule"], {"rule"}), (["model"], {"model"}), (["rule", "model"], {"rule", "model"})])
def test_keep_reward_methods_drops_the_other_routes(prepared, tiny, keep, expected):
    """The rule_only ablation: descriptive rows never reach the trainer when only `rule` is kept."""
    _, out, _ = prepared
    per_method = json.loads((out / "stats.json").read_text())["reward_method"]
    cfg = data_config([f"+data.keep_reward_methods=[{','.join(keep)}]"])
    dataset = load([out / "train.parquet", out / "val.parquet"], cfg, tiny)
    methods = [dataset[i]["extra_info"]["reward_method"] for i in range(len(dataset))]
    assert set(methods) == expected
    assert len(methods) == sum(per_method[m] for m in keep)


def test_unknown_keep_reward_method_is_an_error_naming_it(prepared, tiny):
    _, out, _ = prepared
    with pytest.raises(ValueError, match="judge"):
        load([out / "train.parquet"], data_config(["+data.keep_reward_methods=[rule,judge]"]), tiny)
