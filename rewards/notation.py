"""Spellings of one thing that the verifiers would otherwise tell apart (issue 22).

Greek letters as LaTeX, Unicode or words (`\\alpha`, `α`, `alpha`) are one letter; case is kept where it is
written reliably: `\\Delta` and `Δ` are not `\\delta` and `δ` (a capital reads as `capital delta` in text), while a
word is lowercase whatever its spelling (`Delta` at a sentence start is `delta`). Font commands around a plain
symbol (`\\mathcal{X}`, `\\mathbf{v}`, `\\boldsymbol{\\alpha}`) are the symbol; `\\mathbb` is not dropped (`\\mathbb{R}`
is the reals, not R). Clock times (`3:30`, `3:30 PM`, `15:30`, `3 o'clock`) compare as times of day; a time
without AM/PM up to 12:59 is a clock face's reading and matches either half of the day.
"""

from __future__ import annotations

import re
import unicodedata

_GREEK_NAMES = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi "
    "chi psi omega"
).split()
_VARIANTS = {"varepsilon": "epsilon", "vartheta": "theta", "varphi": "phi", "varpi": "pi", "varrho": "rho",
             "varsigma": "sigma", "varkappa": "kappa"}  # fmt: skip
_LATEX_GREEK = re.compile(r"\\(" + "|".join(sorted([*_GREEK_NAMES, *_VARIANTS], key=len, reverse=True)) + r"|"
                          + "|".join(n.capitalize() for n in _GREEK_NAMES) + r")(?![a-zA-Z])")  # fmt: skip
_GREEK_WORD = re.compile(r"(?<![\\a-zA-Z])(?:" + "|".join(_GREEK_NAMES) + r")(?![a-zA-Z])", re.IGNORECASE)
_UNICODE_GREEK = re.compile("[\u0391-\u03a9\u03b1-\u03c9\u03d1\u03d5\u03d6\u03f0\u03f1\u03f5]")
_FONT = re.compile(
    r"\\(?:mathcal|mathscr|mathfrak|mathsf|mathit|mathbf|mathrm|mathtt|boldsymbol|bm|textit|textbf|textrm|textsf)"
    r"\s*\{\s*([A-Za-z0-9]{1,12}|\\[A-Za-z]+)\s*\}"
)


def _greek_name(letter: str) -> str:
    """'α' -> 'alpha', 'Δ' -> 'Delta', 'ϕ' -> 'phi' (from the Unicode name, so every form is covered)."""
    words = unicodedata.name(letter).split()  # "GREEK SMALL LETTER ALPHA", "GREEK PHI SYMBOL"
    name = words[3] if words[1] in ("SMALL", "CAPITAL") else words[1]
    name = {"LAMDA": "lambda", "FINAL": "sigma"}.get(name, name.lower())
    return name.capitalize() if words[1] == "CAPITAL" else name


def _latex_name(command: str) -> str:
    return _VARIANTS.get(command, command)


def greek_as_words(text: str) -> str:
    """For text comparison: every Greek letter as its name, a capital as `capital <name>` (case is lost later)."""

    def word(name: str) -> str:
        return f" capital {name.lower()} " if name[0].isupper() else f" {name} "

    text = _LATEX_GREEK.sub(lambda m: word(_latex_name(m.group(1))), text)
    return _UNICODE_GREEK.sub(lambda m: word(_greek_name(m.group())), text)


def greek_as_latex(text: str) -> str:
    """For math: Unicode Greek letters as LaTeX commands (`2α` -> `2\\alpha `), variants as their letter."""
    text = _LATEX_GREEK.sub(lambda m: f"\\{_latex_name(m.group(1))}", text)
    return _UNICODE_GREEK.sub(lambda m: f"\\{_greek_name(m.group())} ", text)


def greek_letters(text: str) -> set[str]:
    """The Greek letters written as LaTeX or Unicode (case kept: {'alpha', 'Delta'}) or as words (small letters:
    'delta' and 'Delta' are both δ, as `greek_as_words` reads them)."""
    latex = {_latex_name(m.group(1)) for m in _LATEX_GREEK.finditer(text)}
    words = {m.group().lower() for m in _GREEK_WORD.finditer(text)}
    return latex | words | {_greek_name(m.group()) for m in _UNICODE_GREEK.finditer(text)}


_UNIT_AFTER_NUMBER = re.compile(r"\d\s*\Z")


def has_greek_symbol(text: str) -> bool:
    """A Greek letter used as a symbol (`2\\alpha`, `2α`), not as a unit or its prefix (`5 μm`, `5 Ω`)."""
    if _LATEX_GREEK.search(text):
        return True
    for m in _UNICODE_GREEK.finditer(text):
        unit = m.group() == "\u03a9" and _UNIT_AFTER_NUMBER.search(text, 0, m.start())
        if not unit and not text[m.end() : m.end() + 1].isalpha():
            return True
    return False


def only_case_differs(answer: str, reference: str) -> bool:
    """`\\delta` for `\\Delta`: the same Greek letters but for their case (math-verify reads both as `delta`)."""
    got, expected = greek_letters(answer), greek_letters(reference)
    return got != expected and {g.lower() for g in got} == {e.lower() for e in expected}


def without_fonts(text: str) -> str:
    """`\\mathcal{X}` -> `X`, `\\boldsymbol{\\alpha}` -> `\\alpha`: a font command around one plain symbol or word."""
    return _FONT.sub(lambda m: m.group(1), text) if "\\" in text else text


# --- clock times ---------------------------------------------------------------------------------------------

_MERIDIEM = r"(?:\s*([ap])\.?\s*m\b\.?)?"
_CLOCK = re.compile(
    r"(?<![\w:.])(?:([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?" + _MERIDIEM + r"|(1[0-2]|0?[1-9])\s*(?:o['\u2019]?\s*clock\b"
    r"|([ap])\.?\s*m\b\.?))(?![\w:]|\.\d)",
    re.IGNORECASE,
)
_HALF_DAY = 12 * 60


def clock_times(text: str) -> set[tuple[int, bool]]:
    """Every clock time in `text` as (minutes since midnight, whether it is fixed to one half of the day)."""
    found = set()
    for match in _CLOCK.finditer(text):
        hour = int(match.group(1) or match.group(4))
        minute = int(match.group(2) or 0)
        meridiem = (match.group(3) or match.group(5) or "").lower()
        if meridiem and not 1 <= hour <= 12:
            continue  # "15:30 PM" is no time
        if meridiem:
            hour = hour % 12 + (12 if meridiem == "p" else 0)
        found.add((hour * 60 + minute, bool(meridiem) or hour == 0 or hour > 12))
    return found


def is_clock_time(text: str) -> bool:
    """The whole text is one clock time ("3:30", "3:30 PM", "15:30", "3 o'clock")."""
    match = _CLOCK.fullmatch(text.strip().rstrip("."))
    return match is not None and len(clock_times(text)) == 1


def same_time(answer: str, reference: str) -> bool | None:
    """Whether the one time `answer` states is the reference's; None when it states none or several."""
    got, expected = clock_times(answer), clock_times(reference)
    if len(expected) != 1 or len({t for t, _ in got}) != 1:
        return None
    (got_minutes, got_fixed), (minutes, fixed) = max(got, key=lambda t: t[1]), expected.pop()
    if got_fixed and fixed:
        return got_minutes == minutes
    return got_minutes % _HALF_DAY == minutes % _HALF_DAY
