"""`WeThinkDataset`: verl 0.9.1's `RLHFDataset` plus the three things the WeThink recipe relies on.

    data.custom_cls.path=pkg://recipes.wethink.dataset  data.custom_cls.name=WeThinkDataset

1. The WeThink system prompt is in every prompt (added if a row lacks it, never doubled), because the
   format reward checks for the <think>/<answer> structure it asks for.
2. Every image obeys pixel bounds: `data.min_pixels` / `data.max_pixels` when the config sets them, else
   the entry's own, else the paper defaults; min is clamped to max. Unbounded images are what cause
   OOMs and prompt-length blowups.
3. `extra_info` carries `question`, `category` and `reward_method` (filled from `prompt`, `ability` and
   `reward_model` when a row lacks them, by the row contract's rules in `rewards.row`), which the hybrid reward
   routes on.
4. `data.keep_reward_methods` (default: both) drops rows of the other routes when the dataset is built; the
   `rule_only` ablation keeps `[rule]`, so descriptive samples never reach a judge that is not there.
5. A multimodal prompt longer than `data.max_prompt_length` is named: verl 0.9.1 never truncates one; its agent loop
   raises and the trainer drops the row's whole GRPO group, logging only a random uid. `data_prep.wethink` rejects
   such rows; for a parquet made another way the dataset counts each prompt as it is read (the chat template's
   tokens, each image's pad expanded to its visual tokens within the pixel bounds, from the image header only) and
   logs one WARNING per such row and process, naming the row. An image it cannot size here (a URL) is not counted.

Everything else is verl's. The bounds are applied in both 0.9.1 hooks: `_build_messages` (dataset side)
and `_process_multi_modal_info` (what the AgentLoop calls on each Ray worker before the processor).
This module imports only verl, PIL, `data_prep` and `rewards.row` (no torch of its own), so it imports cleanly on
every node.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from PIL import Image
from verl.utils.dataset.rl_dataset import RLHFDataset

from data_prep.prompt_length import IMAGE_PAD, visual_tokens
from data_prep.schema import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, REWARD_METHODS, SYSTEM_PROMPT
from rewards.row import CATEGORY, INDEX, QUESTION, REWARD_METHOD, canonical_category, question_text, reward_route


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
            return question_text(str(content))
    return ""


def row_category(row: dict) -> str | None:
    """The row's canonical category: `extra_info.category`, else the `ability` column (None when neither maps)."""
    return canonical_category((row.get("extra_info") or {}).get(CATEGORY)) or canonical_category(row.get("ability"))


def row_reward_method(row: dict) -> str:
    """The route a row takes: `extra_info.reward_method`, else `reward_model.style`, else inferred from its category
    (`rewards.row.reward_route`, the reward's own rule)."""
    info, style = row.get("extra_info") or {}, (row.get("reward_model") or {}).get("style")
    return reward_route(row_category(row), info.get(REWARD_METHOD), style)[0]


def completed_extra_info(row: dict, messages: list[dict]) -> dict:
    """`extra_info` with the fields the hybrid reward reads (`rewards.row`), filled from other columns when missing."""
    info = dict(row.get("extra_info") or {})
    if not info.get(QUESTION):
        info[QUESTION] = _user_question(messages)
    info[CATEGORY] = row_category(row) or info.get(CATEGORY)
    info[REWARD_METHOD] = row_reward_method(row)
    return info


def kept_reward_methods(config: Any) -> frozenset[str]:
    """`data.keep_reward_methods` as a set; an unknown method is an error that names it."""
    keep = config.get("keep_reward_methods") if config is not None else None
    keep = frozenset(REWARD_METHODS if keep is None else keep)
    unknown = sorted(keep - set(REWARD_METHODS))
    if unknown or not keep:
        raise ValueError(f"data.keep_reward_methods={sorted(keep)}: expected a non-empty subset of {list(REWARD_METHODS)}")
    return keep


logger = logging.getLogger(__name__)


def image_size(item: dict) -> tuple[int, int] | None:
    """(width, height) of a message's image item without decoding it; None when it is not local (a URL)."""
    image = item.get("image")
    if isinstance(image, Image.Image):
        return image.size
    if isinstance(image, str):
        path = image.removeprefix("file://")
        if os.path.isfile(path):
            with Image.open(path) as opened:  # reads the header only
                return opened.size
    return None


class WeThinkDataset(RLHFDataset):
    """verl's RLHFDataset with the WeThink system prompt, bounded images and reward routing fields."""

    def maybe_filter_out_long_prompts(self, dataframe=None):
        """The route filter (`data.keep_reward_methods`), then verl's own long-prompt filter. It lives in this hook,
        despite the name, because verl 0.9.1 has no hook for filtering rows by content: this one is called once on
        the whole dataframe after the files are read (and again when a resumed run re-reads them), before any row
        is served, so a dropped route never reaches a sampler, a batch or a judge."""
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
        self.warn_if_prompt_too_long(item, row)
        return row

    def prompt_tokens(self, messages: list[dict]) -> tuple[int, int] | None:
        """(text, visual) tokens of a multimodal prompt as verl's agent loop builds it; None when not multimodal or
        an image cannot be sized here."""
        images = [i for m in messages if isinstance(m.get("content"), list) for i in m["content"]
                  if isinstance(i, dict) and i.get("type") == "image"]  # fmt: skip
        sizes = [image_size(i) for i in images]
        if not images or self.processor is None or None in sizes:
            return None
        text = self.processor.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False, **self.apply_chat_template_kwargs
        )
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        pads = ids.count(self.tokenizer.convert_tokens_to_ids(IMAGE_PAD))
        if pads != len(images):
            return None  # not a Qwen2-VL template: cannot count the visual part
        lo_hi = [pixel_bounds(self.config, i) for i in images]
        visual = sum(visual_tokens(w, h, lo, hi) for (w, h), (lo, hi) in zip(sizes, lo_hi, strict=True))
        return len(ids) - pads, visual

    def warn_if_prompt_too_long(self, item: int, row: dict) -> None:
        """One WARNING per over-long row and process: verl would drop its group without naming it."""
        warned = self.__dict__.setdefault("_warned_rows", set())
        if item in warned:
            return
        counted = self.prompt_tokens(row["raw_prompt"])
        if counted is None or sum(counted) <= self.max_prompt_length:
            return
        warned.add(item)
        text, visual = counted
        logger.warning(
            "row %d of %s (extra_info.index=%s): the prompt is %d tokens (text %d + visual %d) > "
            "data.max_prompt_length %d. verl 0.9.1 will drop this row's whole group (its agent loop refuses a "
            "multimodal prompt over rollout.prompt_length). Prepare the data with python -m data_prep.wethink, which "
            "rejects such rows, or lower data.max_pixels.",
            item, list(self.original_data_files), row["extra_info"].get(INDEX), text + visual, text, visual,
            self.max_prompt_length,
        )  # fmt: skip

    @classmethod
    def _process_multi_modal_info(cls, messages: list[dict], image_patch_size, config):
        return super()._process_multi_modal_info(bound_message_images(messages, config), image_patch_size, config)
