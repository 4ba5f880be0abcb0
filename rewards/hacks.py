"""Answers that game a verifier score 0 on every route: empty, every option listed, or the question copied back.

A restatement that adds an answer ("The difference between the bars is 7.") is no copy: it is scored on its merits.

Checked before any verifier or judge runs, so a hack never costs a judge call.
"""

from __future__ import annotations

import functools
import re
from difflib import SequenceMatcher

from rewards.choice import extract_choice, parse_options
from rewards.outcome import AMBIGUOUS, Reason
from rewards.row import question_text
from rewards.text import beyond_question, normalize_text, squeeze_whitespace

COPY_MIN_CHARS = 15  # shorter questions ("What color?") cannot be told apart from a short answer
COPY_SIMILARITY = 0.85
# SequenceMatcher costs up to the product of the lengths: characters are compared up to this length (~5 ms at
# worst), words beyond it (popular words junked), at most COPY_MAX_WORDS of each side.
COPY_CHAR_LEVEL_MAX = 300
COPY_MAX_WORDS = 1000
_OPTION_LINE = re.compile(r"^[^\S\n]*[(\[]?[A-J]\s*[)\].:：、].*$", re.MULTILINE)


@functools.lru_cache(maxsize=256)  # a GRPO group's rollouts share one question
def question_stem(question: str) -> str:
    """The question without image placeholders and option lines, normalised."""
    return normalize_text(_OPTION_LINE.sub(" ", question_text(squeeze_whitespace(question))))


def copies_question(answer: str, question: str) -> bool:
    """The answer says the question back: at least COPY_SIMILARITY alike, by characters for short texts and by
    words for long ones (whose character comparison would cost seconds)."""
    stem, said = question_stem(question), normalize_text(answer)
    if len(stem) < COPY_MIN_CHARS or len(said) < COPY_MIN_CHARS:
        return False
    if 2 * min(len(stem), len(said)) / (len(stem) + len(said)) < COPY_SIMILARITY:  # ratio's upper bound
        return False
    if max(len(stem), len(said)) <= COPY_CHAR_LEVEL_MAX:
        matcher = SequenceMatcher(None, said, stem, autojunk=False)
    else:
        matcher = SequenceMatcher(None, said.split()[:COPY_MAX_WORDS], stem.split()[:COPY_MAX_WORDS])
    return matcher.quick_ratio() >= COPY_SIMILARITY and matcher.ratio() >= COPY_SIMILARITY  # cheap bound first


def adds_its_own(answer: str, question: str) -> bool:
    """The answer says something the question does not: a word of its own beyond the restated question ("How many
    apples are in the basket? 7", "The difference between the bars is 7."), not a respelling of one of the
    question's ("dogs" for "dog": the same first three letters). One set lookup per word: linear."""
    stems = {word[:3] for word in question_stem(question).split()}
    return any(word[:3] not in stems for word in beyond_question(answer, question).split())


def detect_hack(answer: str, question: str) -> Reason | None:
    """The hack `answer` commits against `question`, or None."""
    if not normalize_text(answer):
        return Reason.EMPTY_ANSWER
    options = parse_options(question) if question else {}
    if options and extract_choice(answer, options) is AMBIGUOUS:
        return Reason.MULTIPLE_OPTIONS
    if question and copies_question(answer, question) and not adds_its_own(answer, question):
        return Reason.COPIED_QUESTION
    return None
