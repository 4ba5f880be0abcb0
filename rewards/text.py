"""Yes/no and short-text answers: compare after a normalisation that ignores case, punctuation and articles."""

from __future__ import annotations

import functools
import re
import string
import unicodedata

from rewards.marks import canonical_primes, meaning_marks
from rewards.notation import greek_as_words, without_fonts
from rewards.outcome import AMBIGUOUS, Ambiguous, Outcome, Reason

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}\u2018\u2019\u201c\u201d\u3002\uff0c\uff1a\uff1b\uff01\uff1f\u2032]")
_ARTICLES = frozenset({"a", "an", "the"})
_LATEX_TEXT = re.compile(r"\\(?:text|mathrm|textbf|mathbf)\{([^{}]*)\}")

YES = frozenset({"yes", "y", "yeah", "yep", "yup", "true", "correct", "right", "affirmative", "indeed"})
NO = frozenset({"no", "n", "nope", "nah", "false", "incorrect", "wrong", "negative"})
_INTENSIFIERS = frozenset({"absolutely", "definitely", "certainly", "sure", "of course"})
_NEGATORS = frozenset({"not", "never", "no", "neither", "nor"})
_CONTRACTION = re.compile(r"(?i)\b(can|won|don|doesn|isn|aren|wasn|weren|hasn|haven|hadn|didn|couldn|shouldn|wouldn)['\u2019]?t\b")
_CONTRACTED = {"can": "can", "won": "will"}
# Answers that commit to neither: "yes or no", "not sure", "it cannot be determined", "maybe".
_HEDGE = re.compile(
    r"\b(?:yes|no)\s*(?:or|and|/)\s*(?:yes|no)\b|\b(?:maybe|perhaps|possibly|probably|unsure|uncertain|unclear|"
    r"unknown|might|depends|not\s+(?:sure|certain|clear)|can\s*not\s+(?:be\s+)?(?:determined?|tell|told|say|known?|"
    r"seen|sure)|hard\s+to\s+(?:tell|say)|impossible\s+to\s+(?:tell|say|determine))\b"
)
# Answers that decline to answer: "not enough information", "it cannot be answered", "unanswerable". They say
# neither yes nor no (a short one holds a negation, which would otherwise read as "no"). Read on normalised words.
_INFORMATION = r"(?:information|info|data|evidence|context)"
_ABSTAIN = re.compile(
    rf"\b(?:not\s+(?:\w+\s+)?(?:enough|sufficient|adequate)\s+{_INFORMATION}"
    rf"|(?:insufficient|inadequate|lack\s+of|lacks|lacking)\s+(?:\w+\s+)?{_INFORMATION}"
    r"|(?:un|not\s+)(?:answerable|determinable|decidable|knowable)|indeterminate|undetermined"
    r"|(?:can\s+not|not\s+possible\s+to|impossible\s+to|unable\s+to|no\s+way\s+to)\s+(?:be\s+)?"
    r"(?:answer(?:ed)?|determined?|decided?|known?|inferred|infer|verified|verify|confirmed|confirm|tell|say|conclude))\b"
)
# "yes" / "no" said as a reply, wherever it stands: followed by punctuation or the end ("Yes. No, it is not.",
# "..., so the answer is no."), not a determiner ("there is no dog") nor "No. 5". Read on the raw text.
_REPLY = re.compile(r"\b(yes|yeah|yep|yup|no|nope|nah)\b(?!\.\s?\d)(?=[^\w\s]|\s*$)", re.IGNORECASE)
_SHORT_NEGATION_WORDS = 5  # "It is not.", "I don't think so", "Definitely not": a bare negation answers no


_WHITESPACE_RUN = re.compile(r"\s{2,}")


def squeeze_whitespace(text: str) -> str:
    """Every run of whitespace as one character: a newline when the run holds one (lines keep their meaning),
    else a space. The verifiers read no meaning into a run's length, and a pattern that retries `\\s*` at each
    character of a long run costs its square; squeezed, no run is longer than one."""
    return _WHITESPACE_RUN.sub(lambda run: "\n" if "\n" in run.group() else " ", text)


_MEMO_MAX_CHARS = 1000  # short texts are memoised (1024 of them: ~2 MB at most); a longer one is normalised afresh


def normalize_text(text: str) -> str:
    """'The  Red-Car.' -> 'red car'; 'A' stays 'a' (an answer that is only an article is an option letter).

    Unicode is NFKC-folded so full-width forms compare equal.
    """
    return _normalized(text) if len(text) <= _MEMO_MAX_CHARS else _normalize(text)


@functools.lru_cache(maxsize=1024)  # every verifier and hack check normalises the same answer and question again
def _normalized(text: str) -> str:
    return _normalize(text)


def _normalize(text: str) -> str:
    text = greek_as_words(_LATEX_TEXT.sub(r"\1", without_fonts(text)))
    words = _PUNCT.sub(" ", unicodedata.normalize("NFKC", text).lower()).split()
    return " ".join([w for w in words if w not in _ARTICLES] or words)


def _expand_negations(text: str) -> str:
    """"isn't" -> "is not", "can't"/"cannot" -> "can not", "won't" -> "will not"."""
    text = re.sub(r"(?i)\bcannot\b", "can not", text)
    return _CONTRACTION.sub(lambda m: f"{_CONTRACTED.get(m.group(1).lower(), m.group(1)[:-1])} not", text)


def yes_no_of(text: str) -> str | Ambiguous | None:
    """'yes' / 'no' from the answer; AMBIGUOUS for a hedge ('yes or no', 'not sure', 'maybe'), None when it says neither.

    An abstention ("not enough information", "unanswerable") says neither: None. A reply (a yes/no word followed
    by punctuation or the end) that disagrees with another or with the reading below is a hedge ("Yes. No, it is
    not.", "Yes (no)"). Otherwise the first word decides when it is a yes/no word ("No, the right one is
    bigger"; "Yes, there is no doubt");
    "Absolutely" / "Definitely not" decide by what follows them. Otherwise each yes/no word counts, flipped when
    a negation precedes it within three words ("it is not correct" is a no); both kinds present is a hedge;
    a short answer with a negation and no yes/no word ("It is not.", "I don't think so") is a no.
    """
    words = normalize_text(_expand_negations(text)).split()
    if not words:
        return None
    if _ABSTAIN.search(" ".join(words)):
        return None
    if _HEDGE.search(" ".join(words)):
        return AMBIGUOUS
    replies = {"yes" if m.group(1).lower() in YES else "no" for m in _REPLY.finditer(squeeze_whitespace(text))}
    reading = _reading(words)
    if len(replies) > 1 or (isinstance(reading, str) and replies - {reading}):
        return AMBIGUOUS  # "Yes. No, it is not.", "Yes (no)": the first word does not decide an answer that says both
    return reading


def _reading(words: list[str]) -> str | Ambiguous | None:
    """The yes/no of normalised words by their first word, an intensifier, or every yes/no word."""
    if words[0] in YES or words[0] in NO:
        return "yes" if words[0] in YES else "no"
    if words[0] in _INTENSIFIERS or " ".join(words[:2]) in _INTENSIFIERS:
        return "no" if "not" in words[1:3] else "yes"
    said = set()
    for i, word in enumerate(words):
        if word in YES or word in NO:
            negated = any(w in _NEGATORS for w in words[max(0, i - 3) : i]) and word != "no"
            said.add(("yes" if word in YES else "no") if not negated else ("no" if word in YES else "yes"))
    if len(said) > 1:
        return AMBIGUOUS
    if said:
        return said.pop()
    if len(words) <= _SHORT_NEGATION_WORDS and any(w in _NEGATORS for w in words):
        return "no"
    return None


def verify_yes_no(answer: str, reference: str) -> Outcome:
    expected = yes_no_of(reference)
    if not isinstance(expected, str):  # the reference is not a yes/no: compare as text
        return verify_short_text(answer, reference)
    got = yes_no_of(answer)
    if got is AMBIGUOUS:
        return Outcome.zero(Reason.MULTIPLE_VALUES)
    if got is None:
        return Outcome.zero(Reason.UNPARSEABLE)
    return Outcome.of(got == expected)


_ACRONYM_FILLERS = frozenset({"of", "and", "for", "the", "a", "an", "in", "on", "&"})


def _forms(text: str) -> set[tuple[str, tuple[str, ...]]]:
    """The text normalised, also with hyphens and spaces squashed ('T-shirt', 't shirt', 'tshirt' all meet),
    each with the marks normalisation dropped but meaning keeps ('C++' is not 'C', 'A'' is not 'A')."""
    norm = normalize_text(canonical_primes(text))
    marks = meaning_marks(text)
    return {(norm, marks), (norm.replace(" ", ""), marks)} if norm else set()


def _acronym_of(short: str, long: str) -> bool:
    """'USA' / 'United States of America', 'CPU' / 'central processing unit' (filler words skipped)."""
    letters = normalize_text(short).replace(" ", "")
    initials = "".join(w[0] for w in normalize_text(long).split() if w not in _ACRONYM_FILLERS)
    return len(letters) >= 2 and letters == initials


def _split_parenthetical(text: str) -> tuple[str, str] | None:
    """'United States (USA)' -> ('United States', 'USA'): a one-line text, then one final bracketed part with no
    bracket inside. Found by position, not by a lazy pattern (one retried at every character of a whitespace run
    costs the square of the run)."""
    body = text.strip()
    if not body or body[-1] not in ")\uff09":
        return None
    close = len(body) - 1
    start = max(body.rfind("(", 0, close), body.rfind("\uff08", 0, close))
    inside = body[start + 1 : close]
    if start < 0 or not inside or ")" in inside or "\uff09" in inside:
        return None
    outside = body[:start].rstrip()
    return (outside, inside) if outside and "\n" not in outside else None


def _alternatives(reference: str) -> set[tuple[str, tuple[str, ...]]]:
    """A reference 'United States (USA)' accepts the whole, 'United States' and 'USA'."""
    forms = _forms(reference)
    split = _split_parenthetical(reference)
    if split:
        forms |= _forms(split[0]) | _forms(split[1])
    return forms


_LINKING_WORDS = frozenset({"is", "are", "was", "were", "it", "this", "that", "these", "those", "shown", "called", "named"})


def beyond_question(answer: str, question: str) -> str:
    """What a sentence says besides restating the question: its words that are not the question's, nor a linking
    word ("The color of the car on the left is red." for "What is the color of the car on the left?" -> "red").
    Empty for an answer of fewer than three words or with nothing of its own."""
    words = normalize_text(answer).split()
    if len(words) < 3 or not question:
        return ""
    asked = set(normalize_text(question).split()) | _LINKING_WORDS
    return " ".join(w for w in words if w not in asked)


def verify_short_text(answer: str, reference: str, question: str = "") -> Outcome:
    """Exact match after normalisation (case, punctuation, articles, hyphens) with the same meaning marks
    (rewards.marks: 'C++' is not 'C'); an answer that normalises to nothing is unparseable. A sentence that
    restates the question is read for what it adds (`beyond_question`); the reference's words that the question
    itself names are never read from such a sentence (a restated choice between them would be a hedge). A
    parenthetical in the reference gives alternatives; one in the answer must be consistent: 'US (United
    States)' is accepted for 'United States', 'blue (red)' is not for 'red'."""
    if not normalize_text(answer):
        return Outcome.zero(Reason.UNPARSEABLE)
    accepted = _alternatives(reference)
    if _forms(answer) & accepted:
        return Outcome.of(True)
    said = beyond_question(answer, question)
    if said and _forms(said) & accepted and meaning_marks(answer) == meaning_marks(reference):
        return Outcome.of(True)
    split = _split_parenthetical(answer)
    if split is None:
        return Outcome.of(False)
    outside, inside = split
    outside_ok, inside_ok = bool(_forms(outside) & accepted), bool(_forms(inside) & accepted)
    consistent = (outside_ok and (inside_ok or _acronym_of(inside, outside) or _acronym_of(outside, inside))) or (
        inside_ok and (_acronym_of(outside, inside) or _acronym_of(inside, outside))
    )
    return Outcome.of(consistent)
