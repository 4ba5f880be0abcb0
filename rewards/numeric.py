"""Numeric answers: one number per answer, read through thousands separators, units, currency and percent signs.

"1,234.5 cm", "$12", "25%", "x = 3", "three" all read as one number. An answer that contains several
different numbers ("3 or 4", "3, 4, 5") is not an answer: it scores 0 instead of matching by luck.
LaTeX beyond a plain number (\\frac, \\sqrt) is left to the math verifier.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rewards.outcome import Outcome, Reason

_NUMBER = re.compile(
    r"(?<![\w.])[-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\d.]\d)"
    r"|(?<![\w.])[-+\u2212]?\.\d+"
)
_FRACTION = re.compile(r"(?<![\w.])([-+\u2212]?\d+)\s*/\s*(\d+)(?![\w.])")
_PERCENT_AFTER = re.compile(r"\s*(?:%|percent\b|per cent\b)")
_UNIT_POWER = re.compile(r"(?<=\d)(\s*[a-zA-Z]{1,5})(?:\^\{?[23]\}?|[\u00b2\u00b3])")  # "5 cm^2", "3m³"; not "x^2"
_LATEX_NOISE = re.compile(r"\\[,;!: ]|\\left|\\right|\$|\\\(|\\\)|\\\[|\\\]")
_LATEX_WRAP = re.compile(r"\\(?:text|mathrm|textbf|mathbf|operatorname)\{([^{}]*)\}")
_DEGREES = re.compile(r"\^\s*\{?\\circ\}?|\u00b0")
_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
_WORD_NUMBER = re.compile(r"\b(" + "|".join(_WORDS) + r")\b", re.IGNORECASE)
_LATEX_MATH = re.compile(
    r"\\(?:frac|dfrac|tfrac|sqrt|pi|cdot|times|div|log|ln|sin|cos|tan|infty)|[\^_{}]"
    # "x + 1", "x - 1", "2*y": an expression, not a number with a unit ("Answer: -4", "COVID-19" are not)
    r"|[a-zA-Z]\s*[+*]\s*\d|\d\s*[+*]\s*[a-zA-Z]|[a-zA-Z]\s+-\s+\d|\d\s+-\s+[a-zA-Z]"
)


@dataclass(frozen=True)
class Number:
    value: float
    percent: bool = False


class Several:
    """Marker: the text holds more than one distinct number."""

    def __repr__(self) -> str:
        return "SEVERAL"


SEVERAL = Several()


def looks_like_math(text: str) -> bool:
    """Math beyond a plain number: fractions, roots, powers, `x + 1`. `\\text{5 apples}`, `5 cm^2` are numbers."""
    text = _LATEX_WRAP.sub(r"\1", text)
    return _LATEX_MATH.search(_DEGREES.sub("", _UNIT_POWER.sub(r"\1", text))) is not None


def _clean(text: str) -> str:
    text = _LATEX_WRAP.sub(r"\1", text)
    text = _LATEX_NOISE.sub(" ", text).replace("\\%", "%")
    text = _DEGREES.sub(" ", text)
    return _UNIT_POWER.sub(r"\1", text)


def _to_float(token: str) -> float:
    return float(token.replace("\u2212", "-").replace(",", ""))


def parse_number(text: str) -> Number | Several | None:
    """The single number an answer states, SEVERAL when it states more than one, None when it states none
    (or is LaTeX math such as `2^{10}`, which is not a plain number)."""
    if looks_like_math(text):
        return None
    text = _clean(text)
    found: list[Number] = []
    for match in _FRACTION.finditer(text):
        numerator, denominator = _to_float(match.group(1)), _to_float(match.group(2))
        if denominator:
            found.append(Number(numerator / denominator))
    text = _FRACTION.sub(" ", text)
    for match in _NUMBER.finditer(text):
        percent = _PERCENT_AFTER.match(text, match.end()) is not None
        found.append(Number(_to_float(match.group()), percent))
    if not found:
        found = [Number(float(_WORDS[m.group(1).lower()])) for m in _WORD_NUMBER.finditer(text)]
    distinct = set(found)
    if len(distinct) > 1:
        return SEVERAL
    return found[0] if found else None


def numbers_match(got: Number, expected: Number, rel_tol: float) -> bool:
    """Equal within `rel_tol`; '50%' matches both '50' and '0.5' when only one side carries the percent sign."""

    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-9)

    if got.percent == expected.percent:
        return close(got.value, expected.value)
    as_written = close(got.value, expected.value)
    scaled = close(got.value / 100, expected.value) if got.percent else close(got.value, expected.value / 100)
    return as_written or scaled


def verify_numeric(answer: str, reference: str, rel_tol: float) -> Outcome | None:
    """An Outcome, or None when this is not a plain-number question (reference or answer is LaTeX math)."""
    expected = parse_number(reference)
    if not isinstance(expected, Number) or looks_like_math(reference):
        return None
    if looks_like_math(answer):  # "\\frac{1}{2}" for 0.5: math-verify's job
        return None
    got = parse_number(answer)
    if got is SEVERAL:
        return Outcome.zero(Reason.MULTIPLE_VALUES)
    if got is None:
        return Outcome.zero(Reason.UNPARSEABLE)
    return Outcome.of(numbers_match(got, expected, rel_tol))
