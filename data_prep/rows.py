"""One parser for a raw WeThink JSONL line, shared by the RL prep and the SFT export.

A line either becomes a validated `WeThinkRow` or raises `Reject` with a stable reason code and a detail
that names the field or value, so the caller can write it to the rejects file instead of dropping it.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from data_prep import schema

# Stable reject reason codes (they key the summary's counts; tests exercise each one).
NOT_UTF8 = "not_utf8"
BLANK_LINE = "blank_line"
BAD_JSON = "bad_json"
TRUNCATED_JSON = "truncated_json"
NOT_AN_OBJECT = "not_an_object"
MISSING_FIELD = "missing_field"
BAD_FIELD_TYPE = "bad_field_type"
EMPTY_FIELD = "empty_field"
UNKNOWN_CATEGORY = "unknown_category"
UNKNOWN_REWARD = "unknown_reward"
STRAY_PLACEHOLDER = "stray_placeholder"
PLACEHOLDER_MISMATCH = "placeholder_mismatch"
JSON_TOO_DEEP = "json_too_deep"  # nested deeper than the JSON parser goes (RecursionError)
INT_TOO_LONG = "int_too_long"  # an integer over Python's limit for reading digits (4300 by default)
NOT_ENCODABLE = "not_encodable"  # a lone surrogate ("\ud800"): valid JSON, but no character UTF-8 can write
NOT_FINITE = "not_finite"  # an answer of NaN / Infinity (JSON extensions Python reads) or a float that overflows

REJECT_REASONS = (
    NOT_UTF8,
    BLANK_LINE,
    BAD_JSON,
    TRUNCATED_JSON,
    NOT_AN_OBJECT,
    MISSING_FIELD,
    BAD_FIELD_TYPE,
    EMPTY_FIELD,
    UNKNOWN_CATEGORY,
    UNKNOWN_REWARD,
    STRAY_PLACEHOLDER,
    PLACEHOLDER_MISMATCH,
    JSON_TOO_DEEP,
    INT_TOO_LONG,
    NOT_ENCODABLE,
    NOT_FINITE,
)

# verl splits prompt text on these; a literal one without a matching media entry crashes `_build_messages`.
_OTHER_PLACEHOLDERS = ("<video>", "<audio>")
# Qwen2-VL's vision tokens: the tokenizer reads them in plain text as the real special tokens, so a literal one in
# a problem becomes an image slot without an image (the processor's feature count no longer matches).
_VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>", "<|vision_pad|>")
_ANSWER_BLOCK = re.compile(r"<answer>.*?(?:</answer>|$)", re.S)
_THINK_TAG = re.compile(r"</?think>")


class Reject(Exception):
    """A row that cannot be used: `reason` is a stable code, `detail` says what exactly is wrong."""

    def __init__(self, reason: str, detail: str, value: object = None):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.value = reason, detail, value  # value: the unknown raw label, if any


@dataclass(frozen=True)
class WeThinkRow:
    """A validated WeThink row: labels canonical, `abilities` and `image_paths` always tuples of strings."""

    problem: str
    answer: str
    category: str  # one of schema.CATEGORIES
    reward_method: str  # schema.RULE or schema.MODEL
    abilities: tuple[str, ...]
    refined_cot: str
    image_paths: tuple[str, ...]  # as written in the JSONL, relative to the image root


def decode_line(raw: bytes, is_last: bool = False) -> dict:
    """Bytes of one JSONL line -> the JSON object; a cut-off last line is reported as a truncated file."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Reject(NOT_UTF8, f"invalid UTF-8 byte at offset {err.start}") from None
    text = text.lstrip("\ufeff").strip()
    if not text:
        raise Reject(BLANK_LINE, "empty line")
    try:
        obj = json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as err:
        if is_last and not raw.endswith(b"\n"):
            raise Reject(TRUNCATED_JSON, f"last line has no newline and is cut mid-JSON ({err.msg})") from None
        raise Reject(BAD_JSON, f"{err.msg} at column {err.colno}") from None
    except RecursionError:
        raise Reject(JSON_TOO_DEEP, "arrays / objects nested deeper than the JSON parser goes") from None
    if not isinstance(obj, dict):
        raise Reject(NOT_AN_OBJECT, f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _json_int(digits: str) -> int:
    """json's integer reader, with a reject naming the length where Python refuses to read that many digits."""
    try:
        return int(digits)
    except ValueError:
        limit = sys.get_int_max_str_digits()
        raise Reject(INT_TOO_LONG, f"an integer of {len(digits)} digits (Python reads at most {limit})") from None


def shown(value: object) -> str:
    """A value for a reject's detail: its repr, bounded in length and depth whatever the line holds."""
    return _SHOWN.repr(value)


_SHOWN = reprlib.Repr()
_SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlevel = 80, 80, 3


def _check_encodable(obj: dict) -> None:
    """Every string of the fields a row carries forward can be written as UTF-8 (parquet, JSON, the rejects)."""
    for field in schema.REQUIRED_FIELDS:
        value = obj.get(field)
        for text in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as err:
                    raise Reject(
                        NOT_ENCODABLE,
                        f"field {field!r} holds {text[err.start]!r} at character {err.start}, a lone surrogate: valid "
                        "JSON, but no character UTF-8 can write",
                    ) from None


def _text(obj: dict, field: str, *, allow_number: bool = False) -> str:
    value = obj[field]
    if allow_number and isinstance(value, float) and not math.isfinite(value):
        raise Reject(NOT_FINITE, f"field {field!r} is {value}: no value a ground truth can hold")
    if allow_number and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Reject(BAD_FIELD_TYPE, f"field {field!r} must be a string, got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise Reject(EMPTY_FIELD, f"field {field!r} is empty")
    return value


def _string_list(obj: dict, field: str) -> tuple[str, ...]:
    """A string or a list of strings -> tuple of non-empty stripped strings."""
    value = obj[field]
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise Reject(BAD_FIELD_TYPE, f"field {field!r} must be a string or a list of strings, got {shown(value)}")
    return tuple(v.strip() for v in items if v.strip())


def _check_placeholders(problem: str, n_images: int) -> None:
    for tag in _OTHER_PLACEHOLDERS + _VISION_TOKENS:
        if tag in problem:
            raise Reject(STRAY_PLACEHOLDER, f"problem contains {tag!r}, which verl would read as a media slot")
    found = problem.count(schema.IMAGE_PLACEHOLDER)
    if found and found != n_images:
        raise Reject(PLACEHOLDER_MISMATCH, f"problem has {found} '<image>' placeholders but {n_images} image(s)")


def bare_cot(refined_cot: str) -> str:
    """The reasoning alone: think tags unwrapped and any answer block dropped (the row's `answer` is the label)."""
    return _THINK_TAG.sub("", _ANSWER_BLOCK.sub("", refined_cot)).strip()


def parse_row(
    obj: dict,
    *,
    reward_map: Mapping[str, str] | None = None,
    category_map: Mapping[str, str] | None = None,
    require_cot: bool = False,
) -> WeThinkRow:
    """Validate a decoded JSON object against the WeThink contract (schema.REQUIRED_FIELDS).

    `require_cot`: the SFT export needs reasoning text to imitate; the RL prep does not read it."""
    missing = [f for f in schema.REQUIRED_FIELDS if f not in obj or obj[f] is None]
    if missing:
        raise Reject(MISSING_FIELD, f"missing field(s) {', '.join(repr(f) for f in missing)}")
    _check_encodable(obj)
    problem = _text(obj, "problem")
    answer = _text(obj, "answer", allow_number=True)
    refined_cot = obj["refined_cot"]
    if not isinstance(refined_cot, str):
        raise Reject(BAD_FIELD_TYPE, f"field 'refined_cot' must be a string, got {type(refined_cot).__name__}")
    if require_cot and not bare_cot(refined_cot):
        raise Reject(EMPTY_FIELD, "field 'refined_cot' has no reasoning text (the SFT export needs it)")
    image_paths = _string_list(obj, "image_path")
    if not image_paths:
        raise Reject(EMPTY_FIELD, "field 'image_path' is empty")
    abilities = _string_list(obj, "abilities")
    try:
        category = schema.map_category(obj["category"], category_map)
    except schema.UnknownLabelError as err:
        raise Reject(UNKNOWN_CATEGORY, str(err), value=err.raw) from None
    try:
        reward_method = schema.map_reward_method(obj["reward"], reward_map)
    except schema.UnknownLabelError as err:
        raise Reject(UNKNOWN_REWARD, str(err), value=err.raw) from None
    _check_placeholders(problem, len(image_paths))
    return WeThinkRow(
        problem=problem,
        answer=answer,
        category=category,
        reward_method=reward_method,
        abilities=abilities,
        refined_cot=refined_cot.strip(),
        image_paths=image_paths,
    )


def user_text(problem: str, n_images: int) -> str:
    """The user turn: one `<image>` per image before the problem, unless the problem already places them."""
    if schema.IMAGE_PLACEHOLDER in problem:
        return problem
    return schema.IMAGE_PLACEHOLDER * n_images + problem


def rl_prompt(problem: str, n_images: int) -> list[dict]:
    """verl's `prompt` column: the WeThink system prompt and the user turn (one `<image>` per image)."""
    return [
        {"role": "system", "content": schema.SYSTEM_PROMPT},
        {"role": "user", "content": user_text(problem, n_images)},
    ]
