"""Multiple-choice answers: the option the answer names, by letter or by the option's text.

"B", "(B)", "B.", "B)", "B. 42", "Option B" and "42" (the text of option B, parsed from the question) all name B.
An answer that names several options ("A B C D", "A or C") names none: it scores 0, so listing every option
is never rewarded.
"""

from __future__ import annotations

import re

from rewards.outcome import Outcome, Reason
from rewards.text import normalize_text, verify_short_text

_LINE_OPTION = re.compile(r"^\s*[(\[]?([A-H])\s*[)\].:：、]\s*(.+?)\s*$", re.MULTILINE)
_PAREN_OPTION = re.compile(r"\(([A-H])\)\s*(.*?)(?=\s*\([A-H]\)|\n|$)", re.DOTALL)
_LEADING_LETTER = re.compile(r"^\s*(?:option\s+|choice\s+)?[(\[]?([A-Z])(?:\s*[)\]]|\s*[.:：、]|\s*$)", re.IGNORECASE)
# "A dog" is an article, not option A; "A or C" names two options.
_LETTER_TOKEN = re.compile(r"\(([A-Z])\)|\b([A-Z])\b(?!\s+(?!(?:or|and|nor|to)\b)[a-z])")
_INLINE_OPTION = re.compile(r"(?:^|\s)([A-H])[.:：)]\s*(.+?)(?=\s+[A-H][.:：)]\s|\n|$)")
_BARE_LETTERS = "ABCDEFGH"


class Several:
    """Marker: the text names more than one option."""

    def __repr__(self) -> str:
        return "SEVERAL"


SEVERAL = Several()


def _consecutive_from_a(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Keep a run A, B, C, ... so stray 'B.' inside a sentence is not an option list."""
    options: dict[str, str] = {}
    for letter, text in pairs:
        expected = chr(ord("A") + len(options))
        if letter == expected and text.strip():
            options[letter] = text.strip()
        elif letter == "A" and options:  # a second list starts: keep the last one
            options = {"A": text.strip()}
    return options if len(options) >= 2 else {}


def parse_options(question: str) -> dict[str, str]:
    """Letter -> option text from "A. x" / "(A) x" lines, inline "(A) x (B) y" or "A: x B: y"; {} if none."""
    options = _consecutive_from_a(_LINE_OPTION.findall(question))
    if not options:
        options = _consecutive_from_a(_PAREN_OPTION.findall(question))
    if not options:
        options = _consecutive_from_a(_INLINE_OPTION.findall(question))
    return options


def _letters_named(answer: str, allowed: str) -> set[str]:
    found = set()
    for paren, bare in _LETTER_TOKEN.findall(answer):
        letter = paren or bare
        if letter in allowed and not (letter == "I" and not paren):
            found.add(letter)
    return found


def _texts_named(answer: str, options: dict[str, str]) -> set[str]:
    norm = f" {normalize_text(answer)} "
    return {letter for letter, text in options.items() if normalize_text(text) and f" {normalize_text(text)} " in norm}


def extract_choice(answer: str, options: dict[str, str]) -> str | Several | None:
    """The one option letter `answer` names, SEVERAL when it names more, None when it names none."""
    allowed = "".join(options) or _BARE_LETTERS
    leading = _LEADING_LETTER.match(answer)
    if leading and leading.group(1).upper() in allowed:  # "B", "(B) 42", "B. 42", "Option B"
        letter, rest = leading.group(1).upper(), answer[leading.end() :]
        if normalize_text(rest) == normalize_text(options.get(letter, "")):
            return letter
        return SEVERAL if _letters_named(rest, allowed) - {letter} else letter
    exact = [letter for letter, text in options.items() if normalize_text(text) == normalize_text(answer)]
    if len(exact) == 1:
        return exact[0]
    letters = _letters_named(answer, allowed)
    if len(letters) > 1:
        return SEVERAL
    if letters:
        return letters.pop()
    named = _texts_named(answer, options)
    if len(named) > 1:
        return SEVERAL
    return named.pop() if named else None


def verify_choice(answer: str, reference: str, question: str) -> Outcome:
    options = parse_options(question)
    expected = extract_choice(reference, options)
    if not isinstance(expected, str):  # the reference is no option we can name: compare as text
        return verify_short_text(answer, reference)
    got = extract_choice(answer, options)
    if got is SEVERAL:
        return Outcome.zero(Reason.MULTIPLE_OPTIONS)
    if got is None:
        return Outcome.zero(Reason.UNPARSEABLE)
    return Outcome.of(got == expected)
