"""Yes/no and short-text answers: compare after a normalisation that ignores case, punctuation and articles."""

from __future__ import annotations

import re
import string
import unicodedata

from rewards.outcome import Outcome, Reason

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}\u2018\u2019\u201c\u201d\u3002\uff0c\uff1a\uff1b\uff01\uff1f]")
_ARTICLES = frozenset({"a", "an", "the"})
_LATEX_TEXT = re.compile(r"\\(?:text|mathrm|textbf|mathbf)\{([^{}]*)\}")

YES = frozenset({"yes", "y", "true", "correct", "right"})
NO = frozenset({"no", "n", "false", "incorrect", "wrong"})


def normalize_text(text: str) -> str:
    """'The  Red-Car.' -> 'red car'; 'A' stays 'a' (an answer that is only an article is an option letter).

    Unicode is NFKC-folded so full-width forms compare equal.
    """
    words = _PUNCT.sub(" ", unicodedata.normalize("NFKC", _LATEX_TEXT.sub(r"\1", text)).lower()).split()
    return " ".join([w for w in words if w not in _ARTICLES] or words)


def yes_no_of(text: str) -> str | None | bool:
    """'yes' / 'no' from the answer; False for a hedge ('yes or no'), None when it says neither.

    The first word decides ("No, the right one is bigger" is a no); otherwise the only kind of yes/no word
    present decides; both "yes" and "no" anywhere, or both kinds with neither first, is a hedge.
    """
    words = normalize_text(text).split()
    if not words:
        return None
    if {"yes", "no"} <= set(words):
        return False
    if words[0] in YES or words[0] in NO:
        return "yes" if words[0] in YES else "no"
    said_yes, said_no = any(w in YES for w in words), any(w in NO for w in words)
    if said_yes and said_no:
        return False
    return "yes" if said_yes else "no" if said_no else None


def verify_yes_no(answer: str, reference: str) -> Outcome:
    expected = yes_no_of(reference)
    if not isinstance(expected, str):  # the reference is not a yes/no: compare as text
        return verify_short_text(answer, reference)
    got = yes_no_of(answer)
    if got is False:
        return Outcome.zero(Reason.MULTIPLE_VALUES)
    if got is None:
        return Outcome.zero(Reason.UNPARSEABLE)
    return Outcome.of(got == expected)


def verify_short_text(answer: str, reference: str) -> Outcome:
    """Exact match after normalisation; an answer that normalises to nothing is unparseable."""
    got, expected = normalize_text(answer), normalize_text(reference)
    if not got:
        return Outcome.zero(Reason.UNPARSEABLE)
    return Outcome.of(got == expected)
