"""The rule route: pick the verifier for a sample from its category, or from the reference answer's shape.

`multiple_choice`, `numeric`, `math`, `yes_no` and `short_text` name their verifier. `fill_in_blank`, an
absent or unknown category, and `descriptive` rows that were routed to rules anyway are typed from the
reference: an option letter of the question, yes/no, one plain number, LaTeX math, else short text. A reference
that is a time of day, asked as one (a time word in the question, or AM/PM), is compared as a clock time.
Before math-verify, spellings it misses are made alike (`math_spellings`, `rewards.notation`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from rewards.choice import extract_choice, parse_options, verify_choice
from rewards.labels import MATH, MULTIPLE_CHOICE, NUMERIC, SHORT_TEXT, YES_NO
from rewards.marks import canonical_primes, label_primes
from rewards.math_equiv import verify_math
from rewards.notation import greek_as_latex, is_clock_time, only_case_differs, same_time, without_fonts
from rewards.numeric import Number, looks_like_math, parse_number, states_relation, verify_numeric
from rewards.outcome import Outcome
from rewards.row import IMAGE_PATH
from rewards.text import normalize_text, verify_short_text, verify_yes_no, yes_no_of

_LONE_LETTER = re.compile(r"\s*\(?[A-J]\)?\.?\s*")
_MATHY = re.compile(r"[=<>^\\]|\d\s*[-+*/]\s*\d")
# "(1, 2)", "[0, 1)", "\\{1, 2, 3\\}", "x \\in (0, 1]": tuples, intervals and sets, where brackets carry meaning.
_BRACKETED = re.compile(
    r"\s*(?:\$\s*)?(?:[a-zA-Z]\s*(?:\\in|\u2208)\s*)?(?:\\left\s*)?(?:\(|\[|\\\{|\{)[^,]*,.*(?:\)|\]|\\\}|\})\s*(?:\$\s*)?",
    re.DOTALL,
)

# "y = 2x + 1", "f(x) = 2x + 1", "g(t) = ...": an equation that names a function's value, whatever the name.
_FUNCTION_VALUE = re.compile(r"^\s*\$?\s*(?:y|[a-zA-Z]\s*\(\s*[a-z]\s*\))\s*=(?=[^=]+$)")
# ChartQA's "relaxed accuracy" (Masry et al., 2022, arXiv:2203.10244, end of Sec. 5.1, after Methani et al., 2020:
# a numeric prediction within 5% of the gold, relative to the gold, is right): the recipe scores numeric answers on ChartQA rows the same way, since their golds are values read
# off a chart. Not for a year (a neighbouring year is another bar, not a reading error): those stay exact.
CHART_REL_TOL = 0.05
CHART_SOURCES = frozenset({"chartqa"})  # the image_path's first folder (the LLaVA-CoT source dataset)
_YEAR = re.compile(r"\s*(1[0-9]{3}|20[0-9]{2}|2100)\s*")
CLOCK_TIME = "clock_time"  # not a category: a reference that is a time of day, asked about as one
_TIME_ASKED = re.compile(r"\b(?:time|clock|o'clock|hours?|minutes?|watch|when|a\.?m\b|p\.?m\b)", re.IGNORECASE)
_MERIDIEM = re.compile(r"\d\s*(?:[ap]\.?m\b|o['\u2019]?\s*clock)", re.IGNORECASE)


@dataclass(frozen=True)
class RuleSettings:
    """How the rule verifiers compare. The field defaults are the reward's defaults (`rewards.config.KNOBS`)."""

    numeric_rel_tol: float = 1e-4
    math_timeout: float = 5.0
    math_workers: int = 2


def is_structured_math(reference: str) -> bool:
    """A tuple, interval or set: compared as math whatever the category says (text comparison drops brackets)."""
    return _BRACKETED.fullmatch(reference) is not None


def infer_answer_type(reference: str, question: str) -> str:
    """The verifier a reference answer calls for, when the row's category does not say."""
    if is_structured_math(reference) and not parse_options(question):
        return MATH
    options = parse_options(question)
    if options and isinstance(extract_choice(reference, options), str):
        return MULTIPLE_CHOICE
    if not options and _LONE_LETTER.fullmatch(reference):
        return MULTIPLE_CHOICE
    # one word, not one letter: a reference "Y" or "N" is a label (a point, an option), not yes / no
    if isinstance(yes_no_of(reference), str) and len(normalize_text(reference).split()) == 1 and len(reference.strip()) > 1:
        return YES_NO
    if isinstance(parse_number(reference), Number) and not looks_like_math(reference):
        return NUMERIC
    if looks_like_math(reference) or _MATHY.search(reference):
        return MATH
    return SHORT_TEXT


async def _score_choice(answer: str, reference: str, question: str, cfg: RuleSettings) -> Outcome:
    return verify_choice(answer, reference, question)


async def _score_yes_no(answer: str, reference: str, question: str, cfg: RuleSettings) -> Outcome:
    return verify_yes_no(answer, reference)


async def _score_numeric(answer: str, reference: str, question: str, cfg: RuleSettings) -> Outcome:
    numeric = verify_numeric(answer, reference, cfg.numeric_rel_tol, question)
    return numeric if numeric is not None else await _score_math(answer, reference, question, cfg)


async def _score_short_text(answer: str, reference: str, question: str, cfg: RuleSettings) -> Outcome:
    """A number when both read as one and agree ('5 cm' for '50 mm'), else the text."""
    numeric = verify_numeric(answer, reference, cfg.numeric_rel_tol, question)
    if numeric is not None and numeric.acc == 1:
        return numeric
    return verify_short_text(answer, reference, question)


async def _score_clock(answer: str, reference: str, question: str, cfg: RuleSettings) -> Outcome:
    """'3:30 PM' is '15:30'; '3:30' (a clock face) is either; 'half past three' is not read (short text decides)."""
    same = same_time(answer, reference)
    return Outcome.of(same) if same is not None else verify_short_text(answer, reference)


def math_spellings(answer: str, reference: str) -> tuple[str, str]:
    """The pair as math-verify should see it: font commands around a symbol dropped, Unicode Greek as LaTeX, and
    two equations naming a function's value (`y =` and `f(x) =`) as their right-hand sides."""
    answer, reference = greek_as_latex(without_fonts(answer)), greek_as_latex(without_fonts(reference))
    named, expected = _FUNCTION_VALUE.match(answer), _FUNCTION_VALUE.match(reference)
    if named and expected:
        answer, reference = answer[named.end() :], reference[expected.end() :]
    return answer, reference


async def _score_math(answer: str, reference: str, question: str, cfg: RuleSettings) -> Outcome:
    if only_case_differs(answer, reference):
        return Outcome.of(False)  # `\\delta` is not `\\Delta`: math-verify reads both as `delta`
    answer, reference = math_spellings(answer, reference)
    primes = label_primes(answer)
    if "=" not in answer + reference and primes != label_primes(reference):
        return Outcome.of(False)  # `x''` is not `x'`: math-verify reads a label's primes away
    if primes:  # `A′`, `A^{\\prime}` and `A'` are one label to math-verify only when spelt alike
        answer, reference = canonical_primes(answer), canonical_primes(reference)
    return await verify_math(
        answer, reference, timeout=cfg.math_timeout, workers=cfg.math_workers, rel_tol=cfg.numeric_rel_tol
    )


Verifier = Callable[[str, str, str, RuleSettings], Awaitable[Outcome]]
VERIFIERS: dict[str, Verifier] = {
    MULTIPLE_CHOICE: _score_choice,
    YES_NO: _score_yes_no,
    NUMERIC: _score_numeric,
    SHORT_TEXT: _score_short_text,
    MATH: _score_math,
    CLOCK_TIME: _score_clock,
}


def answer_type_of(reference: str, category: str | None, question: str) -> str:
    """The verifier's key: the category when it names one, else inferred; short text that states a relation
    or a bracketed structure is math (`x < 5` or `[1, 2)` as text would lose the relation or the brackets)."""
    answer_type = category if category in VERIFIERS else infer_answer_type(reference, question)
    if answer_type not in (MULTIPLE_CHOICE, YES_NO) and is_clock_time(reference):
        if _MERIDIEM.search(reference) or _TIME_ASKED.search(question):  # not a ratio such as 1:25
            return CLOCK_TIME
    if answer_type == SHORT_TEXT and (is_structured_math(reference) or states_relation(reference)):
        return MATH
    return answer_type


def is_chart_row(info: Mapping) -> bool:
    """A row whose image comes from a chart source with a relaxed numeric metric (`CHART_SOURCES`), read from
    `extra_info["image_path"]` (a path or a list of paths; the first folder names the source)."""
    paths = info.get(IMAGE_PATH) or ()
    for path in [paths] if isinstance(paths, str) else paths:
        parts = [p for p in str(path).replace("\\", "/").split("/") if p not in ("", ".")]
        if len(parts) > 1 and parts[0].lower() in CHART_SOURCES:
            return True
    return False


def chart_settings(cfg: RuleSettings, reference: str) -> RuleSettings:
    """`cfg` with ChartQA's relaxed tolerance for a chart row's numeric answer; a year stays exact."""
    if _YEAR.fullmatch(reference):
        return cfg
    return replace(cfg, numeric_rel_tol=max(cfg.numeric_rel_tol, CHART_REL_TOL))


async def score_rule(
    answer: str, reference: str, category: str | None, question: str, cfg: RuleSettings, chart: bool = False
) -> Outcome:
    """Accuracy of `answer` by the verifier for `category` (inferred from `reference` when not one of ours).
    `chart`: the row is a chart source's (`is_chart_row`): numbers compare with `CHART_REL_TOL`."""
    verifier = VERIFIERS[answer_type_of(reference, category, question)]
    return await verifier(answer, reference, question, chart_settings(cfg, reference) if chart else cfg)
