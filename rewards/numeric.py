"""Numeric answers: the one value an answer states, read through separators, units, currency and percent signs.

"1,234.5 cm", "1 234 567", "$12", "25%", "x = 3", "three" all read as one number. A verbose answer holding
several numbers is read for the value it states as final: after "the answer is" / "final answer", else after
"so" / "therefore" / "thus", else after "=" / "is"; every such statement of the strongest kind present must give
the same value, else (and for a plain list: "3 or 4", "3, 4, 5") it is AMBIGUOUS and scores 0, never a match
by luck. Relations other than "=" (`x < 5`), `\\pm`, factorials (`5!` outside prose) and LaTeX beyond a plain
number are math, left to the math verifier. Units convert within a dimension (rewards.units).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from rewards.notation import has_greek_symbol
from rewards.outcome import AMBIGUOUS, Ambiguous, Outcome, Reason
from rewards.units import Unit, read_unit

# Not after a letter and a hyphen: "A-1", "B-52", "COVID-19" are labels, not the number 1 (nor -1).
_NUMBER = re.compile(
    r"(?<![\w.])(?<![A-Za-z]-)[-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\d.]\d)"
    r"|(?<![\w.])[-+\u2212]?\.\d+"
)
_FRACTION = re.compile(r"(?<![\w.])([-+\u2212]?\d+)\s*/\s*(\d+)(?![\w.])")
_PERCENT_AFTER = re.compile(r"\s*(?:%|percent\b|per cent\b)")
_UNIT_POWER = re.compile(r"(?<=\d)(\s*[a-zA-Z]{1,5})(?:\^\{?[23]\}?|[\u00b2\u00b3])")  # "5 cm^2", "3m³"; not "x^2"
_LATEX_NOISE = re.compile(r"\\[,;!: ]|\\left|\\right|\$|\\\(|\\\)|\\\[|\\\]")
_LATEX_WRAP = re.compile(r"\\(?:text|mathrm|textbf|mathbf|operatorname)\{([^{}]*)\}")
_DEGREES = re.compile(r"\^\s*\{?\\circ\}?|\u00b0")
# "1 234 567", "10 000", "1\u202f234": digit groups of three after a group of one to three (spaces are
# thousands separators in many locales); "3 4" and "12 34" stay two numbers.
_SPACED_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+(?!\d)")
# "4 + 4 + 6 = 14": the operands of a worked computation are not values the answer states; only its result is.
# The whole chain is matched, and dropped when "=" follows: a pattern that requires the "=" inside it is retried
# from every operand of a chain without one ("1+1+1+..."), the square of its length.
_CHAIN = re.compile(r"(?<![\w.])\d[\d.,]*(?:\s*(?:[-+*/\u00d7\u00f7\u00b7\u2212]|\sx\s)\s*\d[\d.,]*)+\s*")
# Number forms written with math markup that still state one plain number (issue 22), rewritten before reading:
# "3 \\times 10^{5}", "3 x 10^5", "1.2 \\cdot 10^{-3}" and "10^5" (base ten only) as e-notation; "2 1/2", "2\\frac{1}{2}"
# and "2\u00bd" (a whole number, a space or nothing, a proper fraction) as a mixed number; "1{,}000" as "1,000".
_MANTISSA = r"(?<![\w.^{])([-+\u2212]?\d+(?:\.\d+)?)"
_TEN_TO = r"10\s*\^\s*(?:\{\s*([-+\u2212]?\d+)\s*\}|([-+\u2212]?\d+))(?![\d.])"
_SCIENTIFIC = re.compile(_MANTISSA + r"\s*(?:\\times|\\cdot|\u00d7|\u00b7|\*|x)\s*" + _TEN_TO)
_POWER_OF_TEN = re.compile(r"(?<![\w.^{}])" + _TEN_TO)
_MIXED = re.compile(
    r"(?<![\w.,/{])(\d+)(?:\s+(\d+)\s*[/\u2044]\s*(\d+)|\s*\\[dt]?frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}"
    r"|([\u00bc-\u00be\u2150-\u215e]))(?![\w./^])"
)
_BRACED_COMMA = re.compile(r"(?<=\d)\{,\}(?=\d{3})")
# "10^5 + 1", "2 \\times 10^3 \\cdot 4": a power of ten inside arithmetic stays math (math-verify's).
_E_IN_ARITHMETIC = re.compile(r"\d[eE]-?\d+\s*(?:[-+*/^\u00d7\u00f7\u00b7]|\\(?:times|cdot|div))|(?:[-+*/^\u00d7\u00f7\u00b7(]"
                              r"|\\(?:times|cdot|div|frac))\s*\{?-?\d+(?:\.\d+)?[eE]-?\d")


def _exponent(match: re.Match, first: int) -> str:
    return (match.group(first) or match.group(first + 1)).replace("\u2212", "-")


def _mixed(match: re.Match) -> str:
    whole = int(match.group(1))
    if match.group(6):
        numerator, denominator = unicodedata.numeric(match.group(6)).as_integer_ratio()
    else:
        numerator, denominator = int(match.group(2) or match.group(4)), int(match.group(3) or match.group(5))
    if not 0 < numerator < denominator:  # "2 3/2", "2 0/5": not a mixed number, left as written
        return match.group()
    return repr(whole + numerator / denominator)


def plain_number_forms(text: str) -> str:
    """`text` with scientific notation, powers of ten, mixed numbers and braced thousands commas written plainly."""
    if "10" in text and "^" in text:
        written = _SCIENTIFIC.sub(lambda m: f"{m.group(1)}e{_exponent(m, 2)}", text)
        written = _POWER_OF_TEN.sub(lambda m: f"1e{_exponent(m, 1)}", written)
        if not _E_IN_ARITHMETIC.search(written):
            text = written
    text = _MIXED.sub(_mixed, text)
    return _BRACED_COMMA.sub(",", text)


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
# Relations other than "=" and plus-minus: `x < 5` is not the number 5, `\pm 2` is two numbers.
_RELATION = re.compile(
    r"<|>|[\u2264\u2265\u2260\u00b1\u2213\u2208]|\\(?:leq?|geq?|lt|gt|neq?|leqslant|geqslant|pm|mp|in)(?![a-zA-Z])"
)
# Where a verbose answer states its final value, strongest first.
_FINAL_CUES = (
    re.compile(r"\b(?:final\s+answer|answer|result)\s*(?:is|:|=|would\s+be|should\s+be)", re.IGNORECASE),
    re.compile(r"\b(?:therefore|thus|hence|so|which\s+gives|we\s+get|giving|altogether|in\s+all)\b", re.IGNORECASE),
    re.compile(r"=|\u2248|\\approx\b|\b(?:is|are|equals|was|were|(?:has|had|with)\s+(?:a\s+)?value\s+of|reach(?:es|ed)"
               r"|amounts?\s+to|stands?\s+at)\b", re.IGNORECASE),
)
_PROSE_WORDS = 3  # words of two letters or more: a sentence, not a list of values
_CLAUSE_END = re.compile(r"[;!?\n(]|\.(?:\s|$)|\b(?:because|since|as|which|but|while|whereas)\b", re.IGNORECASE)
_EQUATION = re.compile(r"^\s*([a-zA-Z])\s*=\s*(?=\S)")
# "5!" is 120 (math: left to math-verify, which reads it so), unless the answer is prose ("There are 5!"), where
# "!" ends an exclamation. Prose: a word of two letters or more that is no LaTeX command.
_FACTORIAL = re.compile(r"\d\s*!(?!=)")
_PROSE_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{2}")


@dataclass(frozen=True)
class Number:
    value: float
    percent: bool = False
    unit: Unit | None = None
    variable: str | None = None  # "x" for "x = 3": an answer for another unknown ("y = 3") is not the same


def states_relation(text: str) -> bool:
    """`x < 5`, `x \\geq 2`, `\\pm 3`, `x \\in A`: a relation or a plus-minus, which text comparison would drop."""
    return _RELATION.search(_LATEX_WRAP.sub(r"\1", text)) is not None


def looks_like_math(text: str) -> bool:
    """Math beyond a plain number: fractions, roots, powers, `x + 1`, relations, `\\pm`.
    `\\text{5 apples}`, `5 cm^2`, `3 \\times 10^{5}`, `2 1/2` are numbers."""
    text = plain_number_forms(text)
    if states_relation(text) or (_FACTORIAL.search(text) and not _PROSE_WORD.search(text)):
        return True
    if has_greek_symbol(text):  # "2\\alpha" is not the number 2
        return True
    text = _LATEX_WRAP.sub(r"\1", text)
    return _LATEX_MATH.search(_DEGREES.sub("", _UNIT_POWER.sub(r"\1", text))) is not None


def _clean(text: str) -> str:
    text = _LATEX_WRAP.sub(r" \1", text)
    text = _LATEX_NOISE.sub(" ", text).replace("\\%", "%")
    text = _DEGREES.sub("\u00b0", text)
    text = _SPACED_THOUSANDS.sub(lambda m: re.sub(r"\D", "", m.group()), text)
    return _CHAIN.sub(lambda chain: " " if text.startswith("=", chain.end()) else chain.group(), text)


def _to_float(token: str) -> float:
    return float(token.replace("\u2212", "-").replace(",", ""))


def _numbers(text: str) -> list[Number]:
    """Every number in `text`, in no particular order, with its percent sign or unit."""
    found: list[Number] = []
    for match in _FRACTION.finditer(text):
        numerator, denominator = _to_float(match.group(1)), _to_float(match.group(2))
        if denominator:
            found.append(Number(numerator / denominator))
    text = _FRACTION.sub(" ", text)
    unit_end = 0
    for match in _NUMBER.finditer(text):
        if match.start() < unit_end:  # the "2" of "cm^2"
            continue
        percent = _PERCENT_AFTER.match(text, match.end()) is not None
        unit, unit_end = (None, 0) if percent else read_unit(text, match.end())
        found.append(Number(_to_float(match.group()), percent, unit))
    if not found:
        found = [Number(float(_WORDS[m.group(1).lower()])) for m in _WORD_NUMBER.finditer(text)]
    return found


def _one(found: list[Number]) -> Number | Ambiguous | None:
    distinct = set(found)
    if len(distinct) > 1:
        return AMBIGUOUS
    return found[0] if found else None


def _stated_final(text: str) -> Number | Ambiguous | None:
    """The value after the strongest kind of final-answer cue present (every such cue must agree).

    Each cue's statement runs to the end of its clause. A later cue in a clause already read states nothing new
    (its statement is the tail of the earlier one), so each clause is read once: "0 = 1 = 2 = ..." without a
    clause end costs its length, not its square (nor a copy of the rest per "=")."""
    for cue in _FINAL_CUES:
        values, read_to = [], -1
        for match in cue.finditer(text):
            if match.end() <= read_to:
                continue
            end = _CLAUSE_END.search(text, match.end())
            read_to = end.start() if end else len(text)
            values.extend(_numbers(text[match.end() : read_to]))
        if values:
            return _one(values)
    return None


def question_values(question: str) -> frozenset[float]:
    """The values a question states ("How many visited in 2019?": 2019), which an answer may repeat as context."""
    if not question:
        return frozenset()
    return frozenset(n.value for n in _numbers(_clean(plain_number_forms(question))))


def parse_number(text: str, given: frozenset[float] = frozenset()) -> Number | Ambiguous | None:
    """The single number an answer states, AMBIGUOUS when it states more than one (and no single final value),
    None when it states none (or is math such as `2^{10}` or `x < 5`, which is not a plain number).

    `given`: the question's values. A sentence that states one value beside the ones the question gave ("In 2019,
    45 people visited") states that value; a list of the question's values ("2018 or 2019") stays AMBIGUOUS."""
    if looks_like_math(text):
        return None
    text = _clean(plain_number_forms(text))
    equation = _EQUATION.match(text)
    variable = equation.group(1) if equation else None
    numbers = _numbers(text)
    found = _one(numbers)
    if found is AMBIGUOUS:
        found = _stated_final(text) or AMBIGUOUS
    if found is AMBIGUOUS and given and len(_PROSE_WORD.findall(text)) >= _PROSE_WORDS:
        found = _one([n for n in numbers if n.value not in given]) or AMBIGUOUS
    if isinstance(found, Number) and variable:
        found = Number(found.value, found.percent, found.unit, variable)
    return found


def numbers_match(got: Number, expected: Number, rel_tol: float) -> bool:
    """Equal within `rel_tol`. '50%' matches both '50' and '0.5' when only one side carries the percent sign;
    units of one dimension are converted ('50 mm' is '5 cm'), different dimensions never match, a unit on one
    side only is ignored; 'y = 3' is not 'x = 3'."""

    def close(got: float, expected: float) -> bool:  # relative to the reference, as ChartQA's relaxed accuracy
        return abs(got - expected) <= max(rel_tol * abs(expected), 1e-9)

    if got.variable and expected.variable and got.variable != expected.variable:
        return False
    if got.unit and expected.unit:
        same_dimension = got.unit.dimension == expected.unit.dimension
        return same_dimension and close(got.value * got.unit.factor, expected.value * expected.unit.factor)
    if got.percent == expected.percent:
        return close(got.value, expected.value)
    as_written = close(got.value, expected.value)
    scaled = close(got.value / 100, expected.value) if got.percent else close(got.value, expected.value / 100)
    return as_written or scaled


def verify_numeric(answer: str, reference: str, rel_tol: float, question: str = "") -> Outcome | None:
    """An Outcome, or None when this is not a plain-number question (reference or answer is LaTeX math)."""
    expected = parse_number(reference)
    if not isinstance(expected, Number) or looks_like_math(reference):
        return None
    if looks_like_math(answer):  # "\\frac{1}{2}" for 0.5: math-verify's job
        return None
    got = parse_number(answer, question_values(question))
    if got is AMBIGUOUS:
        return Outcome.zero(Reason.MULTIPLE_VALUES)
    if got is None:
        return Outcome.zero(Reason.UNPARSEABLE)
    return Outcome.of(numbers_match(got, expected, rel_tol))
