"""`WeThinkDataset`: verl 0.9.1's `RLHFDataset` plus the three things the WeThink recipe relies on.

    data.custom_cls.path=pkg://recipes.wethink.dataset  data.custom_cls.name=WeThinkDataset

1. The WeThink system prompt is in every prompt (added if a row lacks it, never doubled), because the
   format reward checks for the <think>/<answer> structure it asks for.
2. Every image obeys pixel bounds: `data.min_pixels` / `data.max_pixels` when the config sets them, else
   the entry's own, else the paper defaults; min is clamped to max. Unbounded images are what cause
   OOMs and prompt-length blowups.
3. `extra_info` carries `question`, `category` and `reward_method` (filled from `prompt`, `ability` and
   `reward_model` when a row lacks them), which the hybrid reward routes on.
4. `data.keep_reward_methods` (default: both) drops rows of the other routes when the dataset is built; the
   `rule_only` ablation keeps `[rule]`, so descriptive samples never reach a judge that is not there.

Everything else is verl's. The bounds are applied in both 0.9.1 hooks: `_build_messages` (dataset side)
and `_process_multi_modal_info` (what the AgentLoop calls on each Ray worker before the processor).
This module imports only verl and `data_prep.schema`, so it imports cleanly on every node.
"""

from __future__ import annotations

import os
from typing import Any

from verl.utils.dataset.rl_dataset import RLHFDataset

from data_prep.schema import (
    CATEGORIES,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_PIXELS,
    DESCRIPTIVE,
    IMAGE_PLACEHOLDER,
    MODEL,
    REWARD_METHODS,
    RULE,
    SYSTEM_PROMPT,
)


def pixel_bounds(config: Any, entry: dict | None = None) -> tuple[int, int]:
    """(min_pixels, max_pixels) for one image: config over entry over defaults, min never above max."""
    entry = entry or {}

    def pick(key: str, default: int) -> int:
        value = config.get(key) if config is not None else None
        if value is None:
            value = entry.get(key)
        return int(default if value is None else value)

    hi = pick("max_pixels", DEFAULT_MAX_PIXELS)
    lo = pick("min_pixels", DEFAULT_MIN_PIXELS)
    return min(lo, hi), hi


def image_entry(image: Any) -> dict:
    """An `images` value (dict, path or PIL image) as the dict form verl passes on to qwen_vl_utils."""
    if isinstance(image, dict):
        return dict(image)
    return {"image": os.fspath(image) if isinstance(image, os.PathLike) else image}


def with_bounds(entry: dict, config: Any) -> dict:
    """A copy of an image entry / content item carrying the effective pixel bounds (idempotent)."""
    lo, hi = pixel_bounds(config, entry)
    return {**entry, "min_pixels": lo, "max_pixels": hi}


def bound_message_images(messages: list[dict], config: Any) -> list[dict]:
    """Copies of chat messages whose image items carry the effective pixel bounds."""

    def bound(item: Any) -> Any:
        return with_bounds(item, config) if isinstance(item, dict) and item.get("type") == "image" else item

    return [
        {**m, "content": [bound(i) for i in m["content"]]} if isinstance(m.get("content"), list) else m
        for m in messages
    ]


def with_system_prompt(messages: list[dict]) -> list[dict]:
    """Messages with the WeThink system prompt first: inserted if there is no system turn, prepended to a
    different system turn, left alone if already present."""
    messages = [dict(m) for m in messages]
    if messages and messages[0].get("role") == "system":
        content = messages[0].get("content")
        if isinstance(content, str) and SYSTEM_PROMPT not in content:
            messages[0]["content"] = f"{SYSTEM_PROMPT}\n{content}" if content.strip() else SYSTEM_PROMPT
        return messages
    return [{"role": "system", "content": SYSTEM_PROMPT}, *messages]


def _user_question(messages: list[dict]) -> str:
    for message in messages:
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = "".join(i.get("text", "") for i in content if isinstance(i, dict) and i.get("type") == "text")
            return " ".join(str(content).replace(IMAGE_PLACEHOLDER, " ").split())
    return ""


def completed_extra_info(row: dict, messages: list[dict]) -> dict:
    """`extra_info` with the fields the hybrid reward reads, filled from other columns when missing."""
    info = dict(row.get("extra_info") or {})
    if not info.get("question"):
        info["question"] = _user_question(messages)
    if info.get("category") not in CATEGORIES:
        ability = row.get("ability")
        info["category"] = ability if ability in CATEGORIES else info.get("category")
    if info.get("reward_method") not in REWARD_METHODS:
        style = (row.get("reward_model") or {}).get("style")
        info["reward_method"] = (
            style if style in REWARD_METHODS else (MODEL if info["category"] == DESCRIPTIVE else RULE)
        )
    return info


def kept_reward_methods(config: Any) -> frozenset[str]:
    """`data.keep_reward_methods` as a set; an unknown method is an error that names it."""
    keep = config.get("keep_reward_methods") if config is not None else None
    keep = frozenset(REWARD_METHODS if keep is None else keep)
    unknown = sorted(keep - set(REWARD_METHODS))
    if unknown or not keep:
        raise ValueError(f"data.keep_reward_methods={sorted(keep)}: expected a non-empty subset of {list(REWARD_METHODS)}")
    return keep


def row_reward_method(row: dict) -> str | None:
    """The route a prepared row takes: `extra_info.reward_method`, else `reward_model.style`."""
    method = (row.get("extra_info") or {}).get("reward_method")
    return method if method in REWARD_METHODS else (row.get("reward_model") or {}).get("style")


class WeThinkDataset(RLHFDataset):
    """verl's RLHFDataset with the WeThink system prompt, bounded images and reward routing fields."""

    def maybe_filter_out_long_prompts(self, dataframe=None):
        keep = kept_reward_methods(self.config)
        if keep != frozenset(REWARD_METHODS):
            before = len(dataframe)
            dataframe = dataframe.filter(lambda row: row_reward_method(row) in keep)
            print(f"keep_reward_methods={sorted(keep)}: kept {len(dataframe)} of {before} rows")
        return super().maybe_filter_out_long_prompts(dataframe)

    def _build_messages(self, example: dict, key: str):
        example[key] = with_system_prompt(list(example[key]))
        images = example.get(self.image_key)
        if images:
            example[self.image_key] = [with_bounds(image_entry(image), self.config) for image in images]
        return super()._build_messages(example, key)

    def __getitem__(self, item):
        row = super().__getitem__(item)
        row["extra_info"] = completed_extra_info(row, row["raw_prompt"])
        return row

    @classmethod
    def _process_multi_modal_info(cls, messages: list[dict], image_patch_size, config):
        return super()._process_multi_modal_info(bound_message_images(messages, config), image_patch_size, config)
