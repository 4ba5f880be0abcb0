"""The WeThink data contract: the source's required fields, the paper's system prompt, image sizes, and the labels.

The labels (reward methods, categories, their raw spellings, `map_category` / `map_reward_method`) are defined in
`rewards.labels` and the `extra_info` keys a prepared row carries in `rewards.row`: the vocabulary the reward routes
on stays with the reward, which imports nothing from data preparation. The labels are re-exported here. An unknown
label is an error that names it (never a silent default); users extend the maps with `--reward-map raw=rule|model`
/ `--category-map raw=canonical`.
"""

from __future__ import annotations

from rewards.labels import (  # noqa: F401 - re-exported: the row contract's labels
    CATEGORIES,
    CATEGORY_ALIASES,
    DESCRIPTIVE,
    FILL_IN_BLANK,
    MATH,
    MODEL,
    MULTIPLE_CHOICE,
    NUMERIC,
    REWARD_ALIASES,
    REWARD_METHODS,
    RULE,
    SHORT_TEXT,
    YES_NO,
    UnknownLabelError,
    map_category,
    map_reward_method,
    normalize_label,
)
from rewards.row import IMAGE_PLACEHOLDER  # noqa: F401 - re-exported: where an image goes in a problem

SYSTEM_PROMPT = (
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer.\n"
    "The reasoning process MUST BE enclosed within <think> </think> tags. "
    "The final answer MUST BE enclosed within <answer> </answer> tags."
)

DATA_SOURCE = "wethink"
REQUIRED_FIELDS = ("problem", "answer", "category", "abilities", "refined_cot", "image_path", "reward")

# Image resolution: the recipe's data.min_pixels / max_pixels (wethink_grpo.yaml says why; Qwen2.5-VL patches are
# 28x28 pixels after merging).
DEFAULT_MIN_PIXELS = 512 * 512  # 262,144: EasyR1's default (>= 335 visual tokens), small charts stay legible
DEFAULT_MAX_PIXELS = 1280 * 28 * 28  # 1,003,520: at most 1280 visual tokens, fits a 2048-token prompt
# verl drops a multimodal prompt longer than this (rollout.prompt_length); prep rejects such rows beforehand.
DEFAULT_MAX_PROMPT_TOKENS = 2048  # the recipe's data.max_prompt_length (wethink_grpo.yaml; a test keeps them equal)
EVAL_MIN_PIXELS = 1280 * 28 * 28
EVAL_MAX_PIXELS = 16384 * 28 * 28


def parse_label_map(pairs: list[str] | None, allowed: tuple[str, ...], option: str) -> dict[str, str]:
    """Parse CLI `raw=target` pairs, refusing targets outside `allowed` so a typo cannot route silently."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        raw, sep, target = pair.rpartition("=")
        if not sep or not raw.strip() or target.strip() not in allowed:
            raise ValueError(f"{option} {pair!r}: expected RAW=TARGET with TARGET one of {', '.join(allowed)}")
        out[raw.strip()] = target.strip()
    return out
