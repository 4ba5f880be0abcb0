"""Multiple-choice answers: the option the answer names, by letter or by the option's text.

"B", "(B)", "B.", "B)", "B. 42", "Option B" and "42" (the text of option B, parsed from the question) all name B,
and so do letters inside a sentence: "Option B is correct", "B is the answer", "the answer is b because ...",
"(b)". A lowercase letter counts only after such a cue or in brackets, and an uppercase "A" followed by a
lowercase word is the article ("A dog is shown"); a letter after a capitalised word ("Point B") is a label.
An answer that names several options ("A B C D", "A or C", "b or c", "It could be A, but B seems better")
names none: it scores 0, so hedging between options or listing them is never rewarded (only the one option a
final answer after them commits to can be); an uppercase letter the parser found no option for counts when
named as an option ("A or K", "B, or maybe E", "(K)").
Up to ten options, A-J (MMMU-Pro). Letters in the reasoning are not a hedge when a final-answer cue commits
after them ("Point B is lower than A, so the answer is C"; `_committed`), nor is an option's text that is itself
a letter ("B. C" for option B, whose text is C).
"""

from __future__ import annotations

import functools
import re

from rewards.outcome import AMBIGUOUS, Ambiguous, Outcome, Reason
from rewards.text import normalize_text, squeeze_whitespace, verify_short_text

# No two unbounded whitespace runs meet anywhere in these patterns (`\s*[:]?\s*` would cost the square of a run,
# `\s*` before a lazy group's end its cube); the option patterns also read the question whitespace-squeezed.
_LINE_OPTION = re.compile(r"^[^\S\n]*[(\[]?([A-J])\s*[)\].:：、]\s*(.*\S)", re.MULTILINE)
_PAREN_OPTION = re.compile(r"\(([A-J])\)\s*(.*?)(?=\s*\([A-J]\)|\n|$)", re.DOTALL)
_LEADING_LETTER = re.compile(r"^\s*(?:option\s+|choice\s+)?[(\[]?([A-Z])(?:\s*[)\]]|\s*[.:：、]|\s*$)", re.IGNORECASE)
# An uppercase letter standing alone; "A dog" is an article unless "A or C"; "Point B", "B-52", "A'", "P(A)" are labels;
# "C++", "C#", "A=1" are no letter.
_LETTER_TOKEN = re.compile(
    r"(?<!\w)\(([A-Z])\)|(?<![\w'\-])(?<![A-Z][a-z] )(?<![A-Z][a-z]{2} )(?<![A-Z][a-z]{3} )(?<![A-Z][a-z]{4} )"
    r"(?<!\w\()([A-Z])(?![\w'\-+#=\u2032\u2019])"
)
_ARTICLE = re.compile(r"(?<![\w'\-])[AI]\s+(?!(?:or|and|nor|to|is|seems|looks|would|should)\b)[a-z]")
_CUE = (
    r"(?:option|choice|answer(?:\s+(?:is|would\s+be|should\s+be|:))?|correct\s+(?:answer|option|choice)"
    r"(?:\s+(?:is|would\s+be))?|i\s+(?:choose|pick|select|go\s+with))"
)
# A letter of any case after a cue, or in brackets: "the answer is b because", "the correct option is (c)".
_CUED_LETTER = re.compile(
    rf"\b{_CUE}(?:\s*[:：])?\s*[(\[]?([a-zA-Z])(?![\w'\-])(?!\s+(?!(?:because|since|as|or|and|is|which)\b)[a-z])",
    re.IGNORECASE,
)
# Where an answer commits: "the answer is c", "answer: C", "the correct option is (c)", "I choose C".
_FINAL_CUE = re.compile(
    r"\b(?:answer\s+(?:is|would\s+be|should\s+be)|answer(?=\s*[:：])|(?:correct|right|best|final)\s+"
    r"(?:answer|option|choice)(?:\s+(?:is|would\s+be))?|i\s+(?:choose|pick|select|go\s+with))(?:\s*[:：])?\s*"
    r"[(\[]?([a-zA-Z])(?![\w'\-])(?!\s+(?!(?:because|since|as|or|and|which)\b)[a-z])",
    re.IGNORECASE,
)
_BRACKETED_LETTER = re.compile(r"(?<!\w)[(\[]([a-zA-Z])[)\]]")  # not "P(A)", "f(x)"
# "b or c", "a/b", "c and d": both letters are named, whatever their case.
_LETTER_PAIR = re.compile(
    r"(?<![\w'\-])([a-zA-Z])\s*(?:,|/|&|\bor\b|\band\b|\band/or\b)\s*(?:(?:or\s+)?(?:maybe|perhaps|possibly|probably)\s+)?"
    r"[(\[]?([a-zA-Z])(?![\w'\-])"
)
_LETTER_IS_ANSWER = re.compile(
    r"(?<![\w'\-])[(\[]?([a-zA-Z])[)\]]?\s+(?:is|seems|looks)\s+(?:to\s+be\s+)?(?:the\s+)?(?:correct|right|best|answer)\b",
    re.IGNORECASE,
)
_INLINE_OPTION = re.compile(r"(?:^|\s)([A-J])[.:：)]\s*(.+?)(?=\s+[A-J][.:：)]\s|\n|$)")
# "B. C", "B: C", "B) C", "B (C)": an option letter and its text, when that text is a letter.
_LETTER_AND_TEXT = re.compile(r"(?<![\w'\-])\(?([A-J])(?:[.:：)]\s?|\s?\()\(?([A-J])\)?(?![\w'\-])")
_LONE_LETTER_LINE = re.compile(r"[^\S\n]*[(\[]?\**[(\[]?([A-J])[)\]]?\**[)\]]?\.?[^\S\n]*")
_SENTENCE = re.compile(r"(?<!\w)(?:\w+[^\S\n]+){3}\w")  # four words on one line
_PRONOUN_AFTER = re.compile(r"\s+[a-z]")
_BARE_LETTERS = "ABCDEFGHIJ"  # up to ten options (MMMU-Pro)
# Options laid out in LaTeX ("$$\\begin{array}{ll} \\text{A. } 30^\\circ & \\text{B. } 45^\\circ \\\\ ...", AMC's
# "\\textbf{(A)}\\ 2 \\qquad \\textbf{(B)}\\ 3"): the layout is read as lines and spaces, the text wrappers dropped.
_LAYOUT = re.compile(r"\\(?:begin|end|text|textbf|qquad|quad|hline)\b|\$\$|&|\\\\|\\\[")
_LAYOUT_TEXT = re.compile(r"\\(?:text|textbf|textrm|textit|mathrm|mathbf)\s*\{([^{}]*)\}")
_LAYOUT_BREAK = re.compile(r"\\begin\s*\{[^{}]*\}(?:\s*\{[^{}]*\})?|\\end\s*\{[^{}]*\}|&|\\\\|\$\$|\\\[|\\\]|\\hline")
_LAYOUT_SPACE = re.compile(r"\\(?:qquad|quad|[,;: ])|\$")
# An option's text as a value: "$\\frac{1}{3}$", "1/3"; "45^\\circ", "45°" (compared when the words differ).
_KEY_NOISE = re.compile(r"\s+|\$|\\left|\\right|\\[,;:! ]")
_KEY_FRACTION = re.compile(r"\\[dt]?frac\{(-?\d+)\}\{(\d+)\}")
_KEY_DEGREES = re.compile(r"\^\{?\\circ\}?")


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
    return dict(_options_of(question))


def without_layout(question: str) -> str:
    """A question's LaTeX layout as plain lines: array cells and rows, display delimiters and spacing commands."""
    text = _LAYOUT_TEXT.sub(lambda m: m.group(1), question)
    return _LAYOUT_SPACE.sub(" ", _LAYOUT_BREAK.sub("\n", text))


@functools.lru_cache(maxsize=256)  # a GRPO group's rollouts share one question; questions are data-sized
def _options_of(question: str) -> tuple[tuple[str, str], ...]:
    if _LAYOUT.search(question):
        question = without_layout(question)
    question = squeeze_whitespace(question)
    options = _consecutive_from_a(_LINE_OPTION.findall(question))
    if not options:
        options = _consecutive_from_a(_PAREN_OPTION.findall(question))
    if not options:
        options = _consecutive_from_a(_INLINE_OPTION.findall(question))
    return tuple(options.items())


def _named(letter: str, allowed: str) -> str | None:
    """An option letter of the question (either case), or an uppercase letter of an option the parser did not
    find ("A or K", "B, or maybe E" when only A-D were parsed): still a second option named. Not "I" (the
    pronoun) unless I is an option."""
    if letter.upper() in allowed:
        return letter.upper()
    return letter if letter.isupper() and letter != "I" else None


def _letters_named(answer: str, allowed: str) -> set[str]:
    """Every option letter `answer` names, with the unknown options it names in a hedge (cued, bracketed,
    paired with another letter: `_named`); a letter standing alone counts only when it is an option."""
    found = set()
    articles = {m.start() for m in _ARTICLE.finditer(answer)}
    for match in _LETTER_TOKEN.finditer(answer):
        letter = match.group(1) or match.group(2)
        if match.group(2) and (match.start(2) in articles or letter == "I"):
            continue
        if letter in allowed:
            found.add(letter)
    for pattern in (_CUED_LETTER, _BRACKETED_LETTER, _LETTER_IS_ANSWER):
        found.update(_named(m.group(1), allowed) for m in pattern.finditer(answer))
    for match in _LETTER_PAIR.finditer(answer):
        first, second = match.group(1), match.group(2)
        if second == "I" and _PRONOUN_AFTER.match(answer, match.end()):  # "A, I think"
            continue
        if first.isupper() == second.isupper():  # "A and b" is an article and a letter, not a pair
            found.update((_named(first, allowed), _named(second, allowed)))
    found.discard(None)
    return found


def _committed(answer: str, options: dict[str, str], allowed: str, letters: set[str]) -> str | None:
    """The one option an answer naming several letters still commits to, or None.

    Its last final-answer cue ("the answer is C", "the correct option is (c)", "I choose C"; not a bare
    "option C" or "answer A", which reasoning uses to weigh each option) names one option and nothing after that cue names
    another: the letters before it are reasoning ("Point B is lower than A, so the answer is C"). Or a reasoning
    (a line of four words or more) ends with a line that is only an option letter ("...\n\n**C**"). Or the letters
    are one option and its text, when that text is itself a letter ("B. C", "B (C)" for option B whose text is C).
    """
    final = None
    for final in _FINAL_CUE.finditer(answer):
        pass
    if final is not None:
        after = _letters_named(answer[final.start() :], allowed)
        if len(after) == 1 and after <= set(allowed):
            return after.pop()
    reasoning, _, last_line = answer.rstrip().rpartition("\n")
    last = _LONE_LETTER_LINE.fullmatch(last_line)
    if last and last.group(1) in allowed and _SENTENCE.search(reasoning):
        return last.group(1)
    if len(letters) == 2:
        for letter in letters:
            text = normalize_text(options.get(letter, "")).upper()
            said = any(match.groups() == (letter, text) for match in _LETTER_AND_TEXT.finditer(answer))
            if text in letters - {letter} and said:
                return letter
    return None


def _value_key(text: str) -> str:
    """'$\\frac{1}{3}$' and '1/3' -> '1/3'; '45^\\circ' and '45°' -> '45°'; 'X' -> 'x' (exact values, no algebra)."""
    text = _KEY_DEGREES.sub("\u00b0", _KEY_NOISE.sub("", text))
    return _KEY_FRACTION.sub(r"\1/\2", text).rstrip(".").lower()


def _texts_named(answer: str, options: dict[str, str]) -> set[str]:
    norm = f" {normalize_text(answer)} "
    return {letter for letter, text in options.items() if normalize_text(text) and f" {normalize_text(text)} " in norm}


def extract_choice(answer: str, options: dict[str, str]) -> str | Ambiguous | None:
    """The one option letter `answer` names, AMBIGUOUS when it names more, None when it names none."""
    allowed = "".join(options) or _BARE_LETTERS
    leading = _LEADING_LETTER.match(answer)
    if leading and leading.group(1).upper() in allowed:  # "B", "(B) 42", "B. 42", "Option B"
        letter, rest = leading.group(1).upper(), answer[leading.end() :]
        if normalize_text(rest) == normalize_text(options.get(letter, "")):
            return letter
        return AMBIGUOUS if _letters_named(rest, allowed) - {letter} else letter
    exact = [letter for letter, text in options.items() if normalize_text(text) == normalize_text(answer)]
    if not exact and options:
        key = _value_key(answer)
        exact = [letter for letter, text in options.items() if key and _value_key(text) == key]
    if len(exact) == 1:
        return exact[0]
    letters = _letters_named(answer, allowed)
    if len(letters) > 1:
        return _committed(answer, options, allowed, letters) or AMBIGUOUS
    if letters & set(allowed):
        return letters.pop()
    named = _texts_named(answer, options)
    if len(named) > 1:
        return AMBIGUOUS
    return named.pop() if named else None


def verify_choice(answer: str, reference: str, question: str) -> Outcome:
    options = parse_options(question)
    expected = extract_choice(reference, options)
    if not isinstance(expected, str):  # the reference is no option we can name: compare as text
        return verify_short_text(answer, reference)
    got = extract_choice(answer, options)
    if got is AMBIGUOUS:
        return Outcome.zero(Reason.MULTIPLE_OPTIONS)
    if got is None:
        return Outcome.zero(Reason.UNPARSEABLE)
    return Outcome.of(got == expected)
