"""Stage 3: question generation with ability constraints, validated strictly.

The reasoner writes JSON questions from the fine-grained description. Each must need Reasoning plus at least
one of Recognition, OCR, Knowledge, Spatial, Math, and be multiple choice (2-6 options), fill-in-the-blank or
descriptive. A reply that is not the expected JSON drops the image; a question that breaks a rule is
rejected alone, with the rule it broke.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from data_prep import schema

from .models import ImageCalls
from .replies import Rejected, parse_json_object
from .templates import Prompts

STAGE = "questions"
REASONING = "Reasoning"
ABILITIES = (REASONING, "Recognition", "OCR", "Knowledge", "Spatial", "Math")
LETTERS = "ABCDEF"
MAX_QUESTION_CHARS = 1000
MAX_OPTION_CHARS = 300
# canonical category -> the raw `category` label written to rows (accepted by schema.map_category), reward method
KINDS = {
    schema.MULTIPLE_CHOICE: ("multiple choice", schema.RULE),
    schema.FILL_IN_BLANK: ("fill-in-the-blank", schema.RULE),
    schema.DESCRIPTIVE: ("descriptive", schema.MODEL),
}
_KEYS = {"type", "question", "options", "abilities"}
_LETTER_PREFIX = re.compile(r"^\(?([A-Fa-f])[.):]\s+")


@dataclass(frozen=True)
class Question:
    index: int  # position in the generator's reply: keeps output order stable
    category: str  # canonical (schema.CATEGORIES)
    text: str
    options: tuple[str, ...]
    abilities: tuple[str, ...]

    @property
    def label(self) -> str:
        return KINDS[self.category][0]

    @property
    def reward(self) -> str:
        return KINDS[self.category][1]

    @property
    def problem(self) -> str:
        """The question as the trained model sees it: multiple-choice options listed as 'A. ...' lines."""
        lines = [f"{letter}. {option}" for letter, option in zip(LETTERS, self.options, strict=False)]
        return "\n".join([self.text, *lines])


def _options(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not 2 <= len(raw) <= len(LETTERS):
        raise Rejected(STAGE, "bad_options", f"multiple choice needs a list of 2-{len(LETTERS)} options")
    options = []
    for letter, option in zip(LETTERS, raw, strict=False):
        if not isinstance(option, str) or not option.strip():
            raise Rejected(STAGE, "bad_options", "every option must be non-empty text")
        option = option.strip()
        prefix = _LETTER_PREFIX.match(option)
        if prefix and prefix.group(1).upper() == letter:  # "B. red" in slot B: the letter is ours to add
            option = option[prefix.end() :].strip()
        if not option or len(option) > MAX_OPTION_CHARS:
            raise Rejected(STAGE, "bad_options", f"option {letter} is empty or over {MAX_OPTION_CHARS} characters")
        options.append(option)
    if len({o.lower() for o in options}) != len(options):
        raise Rejected(STAGE, "bad_options", "options repeat")
    return tuple(options)


def _abilities(raw: object) -> tuple[str, ...]:
    known = {a.lower(): a for a in ABILITIES}
    if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        raise Rejected(STAGE, "bad_abilities", "abilities must be a list of strings")
    unknown = [a for a in raw if a.strip().lower() not in known]
    if unknown:
        raise Rejected(STAGE, "unknown_ability", f"{unknown}; allowed {list(ABILITIES)}")
    found = {known[a.strip().lower()] for a in raw}
    if REASONING not in found:
        raise Rejected(STAGE, "no_reasoning", "every question must need Reasoning")
    if len(found) < 2:
        raise Rejected(STAGE, "no_second_ability", f"Reasoning needs one of {list(ABILITIES[1:])}")
    return tuple(a for a in ABILITIES if a in found)


def validate(index: int, item: object) -> Question:
    """One generated question, or Rejected naming the rule it breaks."""
    if not isinstance(item, dict):
        raise Rejected(STAGE, "not_an_object", f"got {type(item).__name__}")
    extra = sorted(set(item) - _KEYS)
    if extra:
        raise Rejected(STAGE, "unexpected_keys", str(extra))
    raw_type = item.get("type")
    try:
        category = schema.map_category(raw_type)
    except schema.UnknownLabelError:
        category = None
    if category not in KINDS:
        raise Rejected(STAGE, "bad_type", f"{raw_type!r}; allowed {[label for label, _ in KINDS.values()]}")
    text = item.get("question")
    if not isinstance(text, str) or not text.strip():
        raise Rejected(STAGE, "empty_question")
    if len(text) > MAX_QUESTION_CHARS:
        raise Rejected(STAGE, "too_long", f"{len(text)} characters")
    abilities = _abilities(item.get("abilities"))
    if category == schema.MULTIPLE_CHOICE:
        options = _options(item.get("options"))
    elif item.get("options"):
        raise Rejected(STAGE, "unexpected_options", f"a {raw_type} question has no options")
    else:
        options = ()
    return Question(index, category, text.strip(), options, abilities)


async def generate(
    calls: ImageCalls, prompts: Prompts, description: str, count: int, counts: Counter
) -> tuple[list[Question], list[tuple[int, Rejected]]]:
    """Valid questions and (index, why) for the invalid ones. Raises Rejected when the reply is unusable."""
    counts[f"{STAGE}.in"] += 1
    reply = await calls.ask("reasoner", STAGE, prompts.render(STAGE, description=description, count=count))
    items = parse_json_object(STAGE, reply).get("questions")
    if not isinstance(items, list):
        raise Rejected(STAGE, "malformed_json", 'expected {"questions": [...]}')
    if not items:
        raise Rejected(STAGE, "no_questions")
    valid: list[Question] = []
    invalid: list[tuple[int, Rejected]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        try:
            if index >= count:
                raise Rejected(STAGE, "over_count", f"asked for {count}")
            question = validate(index, item)
            if question.text.lower() in seen:
                raise Rejected(STAGE, "duplicate")
            seen.add(question.text.lower())
            valid.append(question)
        except Rejected as why:
            invalid.append((index, why))
    counts[f"{STAGE}.generated"] += len(items)
    counts[f"{STAGE}.valid"] += len(valid)
    counts[f"{STAGE}.invalid"] += len(invalid)  # questions; `.rejected` counts images whose reply was unusable
    return valid, invalid
