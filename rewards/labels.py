"""The label vocabulary a row carries and the reward routes on: reward methods, canonical categories, the raw
spellings a WeThink export uses for them, and the maps from raw to canonical.

It lives here, not in `data_prep`, so that dependencies point one way: the reward is loaded on every Ray worker
and imports nothing from data preparation, while `data_prep.schema` re-exports this module (the `extra_info` keys a
row carries beside these labels are in `rewards.row`).
The exact `category` / `reward` strings of the released WeThink JSONL are not published, so every raw label is
mapped explicitly; an unknown label is an error that names it (never a silent default).
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Mapping

# Reward methods: the hybrid reward routes on exactly these two strings.
RULE = "rule"
MODEL = "model"
REWARD_METHODS = (RULE, MODEL)

# Canonical categories. The rule route refines its verifier by these; `descriptive` goes to the judge.
MULTIPLE_CHOICE = "multiple_choice"
FILL_IN_BLANK = "fill_in_blank"  # rule route infers the answer type (number / math / yes-no / text)
NUMERIC = "numeric"
MATH = "math"
YES_NO = "yes_no"
SHORT_TEXT = "short_text"
DESCRIPTIVE = "descriptive"
CATEGORIES = (MULTIPLE_CHOICE, FILL_IN_BLANK, NUMERIC, MATH, YES_NO, SHORT_TEXT, DESCRIPTIVE)

CATEGORY_ALIASES: dict[str, str] = {
    "multiple choice": MULTIPLE_CHOICE,
    "multiple choice question": MULTIPLE_CHOICE,
    "multi choice": MULTIPLE_CHOICE,
    "multichoice": MULTIPLE_CHOICE,
    "choice": MULTIPLE_CHOICE,
    "mcq": MULTIPLE_CHOICE,
    "fill in the blank": FILL_IN_BLANK,
    "fill in blank": FILL_IN_BLANK,
    "fill in": FILL_IN_BLANK,
    "fill blank": FILL_IN_BLANK,
    "blank": FILL_IN_BLANK,
    "free form": FILL_IN_BLANK,
    "numeric": NUMERIC,
    "numerical": NUMERIC,
    "number": NUMERIC,
    "counting": NUMERIC,
    "math": MATH,
    "mathematics": MATH,
    "formula": MATH,
    "yes no": YES_NO,
    "yes or no": YES_NO,
    "true false": YES_NO,
    "judgement": YES_NO,
    "judgment": YES_NO,
    "short text": SHORT_TEXT,
    "short answer": SHORT_TEXT,
    "open ended": DESCRIPTIVE,
    "descriptive": DESCRIPTIVE,
    "description": DESCRIPTIVE,
    "describe": DESCRIPTIVE,
    "long answer": DESCRIPTIVE,
}

REWARD_ALIASES: dict[str, str] = {
    "rule": RULE,
    "rules": RULE,
    "rule based": RULE,
    "verifiable": RULE,
    "exact match": RULE,
    "math verify": RULE,
    "model": MODEL,
    "model based": MODEL,
    "llm": MODEL,
    "llm judge": MODEL,
    "judge": MODEL,
    "reward model": MODEL,
    "gpt": MODEL,
}


class UnknownLabelError(ValueError):
    """A raw `category` / `reward` value that no map knows. The message names the value and the fix."""

    def __init__(self, field: str, raw: object, known: Mapping[str, str], option: str):
        self.field, self.raw = field, raw
        shown = _SHOWN.repr(raw)  # bounded: a label is data, of any size or depth
        spelt = raw if isinstance(raw, str) and len(raw) <= _SHOWN.maxstring else shown
        super().__init__(
            f"unknown {field} value {shown}: add it with {option} '{spelt}=<{'|'.join(sorted(set(known.values())))}>'"
        )


_SHOWN = reprlib.Repr()
_SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlevel = 200, 200, 3


_SEPARATORS = re.compile(r"[\s_\-/]+")


def normalize_label(raw: object) -> str:
    """Case-, dash-, underscore- and spacing-tolerant key: ' Multiple-Choice ' -> 'multiple choice'."""
    return _SEPARATORS.sub(" ", str(raw)).strip().lower()


def _normalized(aliases: Mapping[str, str]) -> dict[str, str]:
    return {normalize_label(k): v for k, v in aliases.items()}


# Normalized once: mapping runs per row (120K rows at prep, every sample in the reward).
_CATEGORY_TABLE = _normalized({**{c: c for c in CATEGORIES}, **CATEGORY_ALIASES})
_REWARD_TABLE = _normalized(REWARD_ALIASES)


def _map_label(field: str, raw: object, table: Mapping[str, str], extra: Mapping[str, str] | None, option: str):
    if extra:
        table = {**table, **_normalized(extra)}
    key = normalize_label(raw) if isinstance(raw, str) else None
    if key not in table:
        raise UnknownLabelError(field, raw, table, option)
    return table[key]


def map_category(raw: object, extra: Mapping[str, str] | None = None) -> str:
    """Raw WeThink `category` -> one of CATEGORIES (canonical names map to themselves). `extra`: the user's
    `--category-map` additions (data prep), which the error message names as the fix."""
    return _map_label("category", raw, _CATEGORY_TABLE, extra, "--category-map")


def map_reward_method(raw: object, extra: Mapping[str, str] | None = None) -> str:
    """Raw WeThink `reward` -> 'rule' or 'model'. `extra`: the user's `--reward-map` additions (data prep)."""
    return _map_label("reward", raw, _REWARD_TABLE, extra, "--reward-map")
