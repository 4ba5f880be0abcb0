"""The rule route on answers as models write them, one table per class of failure (issue 12).

Each case is (answer, reference, category, question, deserved): `deserved` is what the answer deserves, decided
by reading it, not by running the code. Wrong answers sit next to right ones in every class, so a verifier that
accepts too much fails here as surely as one that accepts too little.

`python tests/test_reward_cases.py` prints accuracy and wrong-accepts per class (the figures of the issue's
closing note); pytest asserts every case.
"""

from __future__ import annotations

import asyncio
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[1]))  # a PYTHONPATH given first wins (to score an older rewards/)

from rewards.hacks import detect_hack  # noqa: E402
from rewards.rule import RuleSettings, score_rule  # noqa: E402

MC = "Which bar is the tallest?\nA. 12\nB. 42\nC. 7\nD. 9"
NO_CATEGORY = None


@dataclass(frozen=True)
class Case:
    cls: str
    answer: str
    reference: str
    deserved: bool
    category: str | None = NO_CATEGORY
    question: str = "<image>Answer the question about the figure."
    chart: bool = False  # a ChartQA row (rewards.rule.is_chart_row)


def cases(
    cls: str, rows: list[tuple], category: str | None = NO_CATEGORY, question: str | None = None, chart: bool = False
) -> list[Case]:
    out = []
    for row in rows:
        answer, reference, deserved, *rest = row
        cat = rest[0] if rest else category
        asked = rest[1] if len(rest) > 1 else question or Case.question
        out.append(Case(cls, answer, reference, deserved, cat, asked, chart))
    return out


RELATIONS = cases("relations", [
    ("x > 5", "x > 5", True),
    ("5 < x", "x > 5", True),
    ("x < 5", "x > 5", False),
    ("x \\geq 5", "x > 5", False),
    ("x\\ge 5", "x \\geq 5", True),
    ("x >= 5", "x \\geq 5", True),
    ("x \u2265 5", "x \\geq 5", True),
    ("x \u2264 5", "x \\geq 5", False),
    ("x \\leq -2", "x \\geq -2", False),
    ("x > -2", "x > 2", False),
    ("x < 5", "5", False),
    ("5", "x < 5", False),
    ("x \\neq 3", "x = 3", False),
    ("x = 3", "x \\neq 3", False),
    ("x < 5", "x > 5", False, "math"),
    ("x > 5", "x > 5", True, "math"),
    ("x \\le 5", "x < 5", False, "numeric"),
    ("-2 < x < 3", "-2 < x < 3", True),
    ("-3 < x < 2", "-2 < x < 3", False),
])  # fmt: skip

PLUS_MINUS = cases("plus_minus", [
    ("\\pm 2", "\\pm 2", True),
    ("x = \\pm 2", "\\pm 2", True),
    ("\u00b12", "\\pm 2", True),
    ("x = 2 or x = -2", "x = \\pm 2", True),
    ("2, -2", "\\pm 2", True),
    ("2", "\\pm 2", False),
    ("-2", "\\pm 2", False),
    ("x = 2", "x = \\pm 2", False),
    ("\\pm 3", "\\pm 2", False),
    ("3 + \\sqrt{2}", "3 \\pm \\sqrt{2}", False),
    ("3 \\pm \\sqrt{2}", "3 \\pm \\sqrt{2}", True),
    ("2", "\\pm 2", False, "numeric"),
    ("\\pm 2", "2", False, "numeric"),
])  # fmt: skip

EQUATIONS = cases("equations", [
    ("x = 3", "3", True),
    ("3", "x = 3", True),
    ("x = 3", "3", True, "numeric"),
    ("y = 3", "x = 3", False),
    ("x = 4", "x = 3", False),
    ("y = 2x + 1", "y = 2x + 1", True),
    ("2x + 1", "y = 2x + 1", True),
    ("y = 2x - 1", "y = 2x + 1", False),
    ("x^2 + y^2 = 4", "x^2+y^2=4", True),
    ("4", "x^2 + y^2 = 4", False),
    ("a = 5", "5", True),
    ("x = 3", "x = \\pm 3", False),
])  # fmt: skip

SETS_INTERVALS = cases("sets_intervals", [
    ("(1, 2)", "(1, 2)", True),
    ("(2, 1)", "(1, 2)", False),
    ("[1, 2]", "(1, 2)", False),
    ("[0, 1)", "[0, 1]", False),
    ("(0, 1]", "(0,1]", True),
    ("\\{1, 2, 3\\}", "\\{3, 2, 1\\}", True),
    ("\\{1, 2\\}", "\\{1, 2, 3\\}", False),
    ("(-\\infty, 3)", "(-\\infty, 3]", False),
    ("(3,4)", "(3, 4)", True),
    ("(4, 3)", "(3, 4)", False),
    ("(1, 2]", "[1, 2)", False),
    ("x \\in [2, 5]", "[2, 5]", True),
    ("[2, 5)", "[2,5]", False, "fill_in_blank"),
    ("(2, 5)", "(2, 5)", True, "fill_in_blank"),
    ("(1, 2)", "[1, 2]", False, "short_text"),
])  # fmt: skip

VERBOSE = cases("verbose_numbers", [
    ("There are 3 red cars and 5 blue cars, so 8 cars in total.", "8", True),
    ("There are 3 red cars and 5 blue cars, so 8 cars in total.", "5", False),
    ("There are 3 red cars and 5 blue cars, so 8 cars in total.", "3", False),
    ("12 + 8 = 20", "20", True),
    ("12 + 8 = 20", "12", False),
    ("The answer is 20, because 4 \u00d7 5 = 20.", "20", True),
    ("The bar for 2019 shows 45 and 2020 shows 52; the difference is 7.", "7", True),
    ("The bar for 2019 shows 45 and 2020 shows 52; the difference is 7.", "45", False),
    ("I count 6 birds, maybe 7.", "6", False),
    ("I count 6 birds, maybe 7.", "7", False),
    ("The answer is 20, 30 or 40.", "30", False),
    ("\\boxed{15}", "15", True),
    ("Between 10 and 12, the final answer is 11.", "11", True),
    ("Between 10 and 12, the final answer is 11.", "12", False),
    ("There are 3 cats and 5 dogs, so 8 animals.", "5", False, "math"),
    ("There are 3 cats and 5 dogs, so 8 animals.", "8", True, "numeric"),
    ("There are 3 cats and 5 dogs, so 8 animals.", "5", False, "numeric"),
])  # fmt: skip

THOUSANDS = cases("thousands_spaces", [
    ("1 234 567", "1234567", True),
    ("12 345", "12,345", True),
    ("1\u00a0234", "1234", True),
    ("1\u202f234", "1234", True),
    ("1 234.5 km", "1234.5", True),
    ("10 000 people", "10000", True),
    ("1\\,234", "1234", True),
    ("3 4", "34", False),
    ("12 34", "1234", False),
    ("1 234", "234", False),
    ("1 234", "1", False),
    ("12 345", "12,354", False, "numeric"),
])  # fmt: skip

CHOICE = cases("choice_in_sentence", [
    ("Option B is correct", "B", True),
    ("the answer is b because the bar is tallest", "B", True),
    ("B is the correct answer.", "B", True),
    ("I think it's C.", "C", True),
    ("The correct option is (c).", "C", True),
    ("A dog is shown, so the answer is D", "D", True),
    ("a", "A", True),
    ("Answer: C) 7", "C", True),
    ("Option B is correct", "C", False),
    ("the answer is b because the bar is tallest", "A", False),
    ("B or C", "B", False),
    ("Either B or C is correct", "B", False),
    ("It could be A, but B seems better", "B", False),
    ("b or c", "C", False),
    ("The answer is B and C.", "B", False),
    ("A dog is shown, so the answer is D", "A", False),
], category="multiple_choice", question=MC)  # fmt: skip

YES_NO = cases("yes_no", [
    ("Yes.", "Yes", True),
    ("Yeah, the light is green.", "Yes", True),
    ("Yep", "yes", True),
    ("Nope", "No", True),
    ("No, it isn't.", "No", True),
    ("It is not.", "No", True),
    ("It is not correct.", "No", True),
    ("It is not correct.", "Yes", False),
    ("Not true", "No", True),
    ("Definitely not", "No", True),
    ("Definitely not", "Yes", False),
    ("I don't think so", "No", True),
    ("I don't think so", "Yes", False),
    ("There is no dog in the image.", "No", True),
    ("Not sure", "No", False),
    ("Not sure", "Yes", False),
    ("Maybe", "Yes", False),
    ("Yes and no", "Yes", False),
    ("The statement is false.", "No", True),
    ("Incorrect", "Yes", False),
    ("It cannot be determined from the image.", "No", False),
    ("Yes, there is no doubt.", "Yes", True),
    ("Absolutely.", "Yes", True),
], category="yes_no")  # fmt: skip

SHORT_TEXT = cases("short_text", [
    ("T-shirt", "t shirt", True),
    ("tshirt", "T-shirt", True),
    ("Wi-Fi", "WiFi", True),
    ("NEW YORK", "New York", True),
    ("USA", "United States (USA)", True),
    ("United States", "United States (USA)", True),
    ("US (United States)", "United States", True),
    ("CPU", "central processing unit (CPU)", True),
    ("blue (red)", "red", False),
    ("red (blue)", "red", False),
    ("Canada", "United States (USA)", False),
    ("X-ray", "x ray", True),
    ("left-hand side", "left", False),
    ("red", "red-orange", False),
], category="short_text")  # fmt: skip

UNITS = cases("units", [
    ("50 mm", "5 cm", True),
    ("5 cm", "5 m", False),
    ("0.5 m", "50 cm", True),
    ("5", "5 cm", True),
    ("2 h", "120 min", True),
    ("2 hours", "120 minutes", True),
    ("5 kg", "5 g", False),
    ("5 kg", "5 km", False),
    ("1.5 L", "1500 mL", True),
    ("3 cm^2", "300 mm^2", True),
    ("3 cm^2", "3 cm", False),
    ("36 km/h", "10 m/s", True),
    ("5 m", "5 cm", False, "math"),
    ("5 m", "5 cm", False, "short_text"),
    ("120 seconds", "2 minutes", True, "numeric"),
], category="numeric")  # fmt: skip

# Issue 22: wrong accepts found on recorded answers of real VLMs, one general rule each.

# A reply of each kind anywhere ("Yes. No, ..."): a hedge, whatever the first word says. "no" as a determiner
# ("there is no doubt") or "No. 5" is no reply.
YES_NO_BOTH = cases("yes_no_both", [
    ("Yes. No, actually it is not.", "Yes", False),
    ("Yes. No, actually it is not.", "No", False),
    ("No. Yes.", "No", False),
    ("Yes, the dog is on the left. No, it is on the right.", "Yes", False),
    ("No, wait, yes.", "Yes", False),
    ("Yes, no wait, the answer is no.", "No", False),
    ("No! Well... yes.", "No", False),
    ("Yes (no)", "Yes", False),
    ("Yes/No", "Yes", False),
    ("No (yes).", "No", False),
    ("Yes, there is no doubt.", "Yes", True),
    ("Yes, it's No. 5.", "Yes", True),
    ("No, there is no dog in the picture.", "No", True),
    ("No, no.", "No", True),
    ("Yes! Yes, it is.", "Yes", True),
    ("The man is holding an umbrella, so the answer is yes.", "Yes", True),
    ("Yes, so the answer is yes.", "Yes", True),
], category="yes_no")  # fmt: skip

# Declining to answer is neither yes nor no (a short one holds a negation that would read as "no").
ABSTAIN = cases("abstain", [
    ("Not enough information", "No", False),
    ("There is not enough information to tell.", "No", False),
    ("The image does not provide enough information.", "No", False),
    ("Insufficient information", "No", False),
    ("Insufficient data.", "Yes", False),
    ("Cannot be determined", "No", False),
    ("It can't be determined from the image.", "No", False),
    ("Unanswerable", "No", False),
    ("The question is unanswerable.", "No", False),
    ("Not answerable", "No", False),
    ("Impossible to know", "No", False),
    ("Unable to determine", "No", False),
    ("No", "No", True),
    ("No, there is not.", "No", True),
    ("It is not.", "No", True),
    ("Not at all.", "No", True),
    ("No, there is enough room for the car.", "No", True),
    ("No, the image provides enough information to see the dog is brown.", "No", True),
    ("Not enough information", "Not enough information", True, "short_text"),
    ("Not enough information", "Yes", False, None),
], category="yes_no")  # fmt: skip


# Marks that normalisation drops but meaning keeps (rewards.marks): `+ # = < > ^`, separators between digits.
MEANING_MARKS = cases("meaning_marks", [
    ("C++", "C", False),
    ("C", "C++", False),
    ("C#", "C", False),
    ("C", "C#", False),
    ("F#", "F", False),
    ("A=1", "A-1", False),
    ("A-1", "A=1", False),
    ("A-1", "A=1", False, "numeric"),
    ("A-1", "A=1", False, None),
    ("B-52", "52", False, "numeric"),
    ("3.5", "35", False),
    ("1/2", "12", False),
    ("1:2", "12", False),
    ("10-15", "1015", False),
    ("x^2", "x2", False),
    ("C++", "C#", False),
    ("A>B", "A<B", False),
    ("C++", "c++", True),
    ("C#", "C#", True),
    ("The C++ language", "C++", False),
    ("c++", "C++ (programming language)", True),
    ("A=1", "A = 1", True),
    ("A-1", "A-1", True),
    ("A-1", "a 1", True),
    ("T-shirt", "tshirt", True),
    ("**Paris**", "Paris", True),
    ("men's room", "mens room", True),
    ("1,234 people", "1234 people", True),
    ("B-52", "B-52", True),
    ("rock & roll", "rock & roll", True),
], category="short_text")  # fmt: skip

# A prime or double prime on a label (`A'`, `x''`, `A^{\prime}`, `A′`) names another point or derivative.
LABEL_PRIMES = cases("label_primes", [
    ("A'", "A", False),
    ("A", "A'", False),
    ("x''", "x'", False),
    ("x'", "x''", False),
    ("B1'", "B1", False),
    ("A'B'", "AB", False),
    ("x''", "x'", False, "math"),
    ("A'", "A", False, "math"),
    ("A'", "A", False, None),
    ("Point A'", "Point A", False),
    ("A'", "A'", True),
    ("A\u2032", "A'", True),
    ("A'", "A\u2032", True),
    ("A^{\\prime}", "A'", True),
    ("A''", "A\u2033", True),
    ("x''", "x''", True),
    ("A'B'", "A'B'", True),
    ("x'", "x'", True, "math"),
    ("A\u2032", "A'", True, "math"),
    ("A^{\\prime}", "A'", True, "math"),
    ("A''", "A'", False, "math"),
], category="short_text")  # fmt: skip


# A hedge that names an option the parser did not find is still a hedge: an uppercase letter named as an option
# (paired with another letter, cued, bracketed) counts, known or not; one standing alone counts only if known.
HEDGE_UNKNOWN = cases("hedge_unknown_option", [
    ("A or K", "A", False),
    ("B or Z", "B", False),
    ("B, or maybe E", "B", False),
    ("B or possibly F", "B", False),
    ("B/E", "B", False),
    ("The answer is B or (E).", "B", False),
    ("B. Though E is also plausible, E is correct", "B", False),
    ("K or B", "B", False),
    ("B", "B", True),
    ("B, I think", "B", True),
    ("Option B, since point X is higher than Y", "B", True),
    ("The answer is B; P(A) is 0.4", "B", True),
    ("B. 42", "B", True),
    ("(B) 42", "B", True),
], category="multiple_choice", question=MC)  # fmt: skip

MC10 = "Which value is shown?\n" + "\n".join(
    f"{letter}. {value}" for letter, value in zip("ABCDEFGHIJ", [3, 5, 8, 13, 21, 34, 55, 89, 144, 233])
)
MC10_INLINE = "Which value is shown? (A) 3 (B) 5 (C) 8 (D) 13 (E) 21 (F) 34 (G) 55 (H) 89 (I) 144 (J) 233"
# Up to ten options, A-J (MMMU-Pro): I and J are options like any other; hedges across them are refused.
TEN_OPTIONS = cases("ten_options", [
    ("J", "J", True),
    ("I", "I", True),
    ("(J)", "J", True),
    ("J. 233", "J", True),
    ("The answer is J.", "J", True),
    ("Option I", "I", True),
    ("233", "J", True),
    ("144", "I", True),
    ("The correct answer is (I).", "I", True),
    ("j", "J", True),
    ("I", "J", False),
    ("J", "I", False),
    ("A or J", "A", False),
    ("J or I", "J", False),
    ("I or J", "I", False),
    ("F, or maybe J", "F", False),
    ("A, I think", "A", True),
    ("233", "I", False),
    ("J", "J", True, "multiple_choice", MC10_INLINE),
    ("(I) 144", "I", True, "multiple_choice", MC10_INLINE),
    ("A or J", "A", False, "multiple_choice", MC10_INLINE),
    ("J", "J", True, None, MC10),
    ("I or J", "I", False, None, MC10),
    ("H", "J", False, None, MC10),
    ("J", "J", True, "multiple_choice", "Which one is right?"),
    ("(I)", "I", True, None, "Which one is right?"),
    ("I or J", "J", False, "multiple_choice", "Which one is right?"),
], category="multiple_choice", question=MC10)  # fmt: skip


LETTER_OPTIONS = "Which point is the highest?\nA. B\nB. C\nC. D\nD. A"
# Letters inside the answer's text are not all options: the last final-answer cue ("the answer is C"; not a bare
# "option C") decides when nothing after it names another option; an option and its text, when that text is a
# letter ("B. C"), name one option.
LETTERS_IN_TEXT = cases("letters_in_text", [
    ("Point B is lower than A, so the answer is C.", "C", True),
    ("The point B is lower than A, so the answer is C.", "C", True),
    ("Option A is wrong because 12 < 42, option C is too small, so the answer is B.", "B", True),
    ("In triangle ABC, angle A is 30 degrees and side BC is longest. The answer is D", "D", True),
    ("It could be A, but the correct answer is B.", "B", True),
    ("Point B is lower than A, so the answer is C.", "A", False),
    ("Point B is lower than A, so the answer is C.", "B", False),
    ("The answer is A or B.", "A", False),
    ("The answer is C, but A is also possible.", "C", False),
    ("Option B is correct, but option C also fits.", "B", False),
    ("The answer is C or maybe K.", "C", False),
    ("The answer is C. Answer A is wrong.", "A", False),
    ("Answer A is wrong, so the answer is B.", "B", True),
    ("Answer A is wrong, so the answer is B.", "A", False),
    ("The final answer: C", "C", True),
    ("Comparing the bars, A is 12 and B is 42.\n\nB", "B", True),
    ("Bar A is 12 and bar C is 7, so bar B is the highest.\n**(B)**", "B", True),
    ("Comparing the bars, A is 12 and B is 42.\n\nB", "A", False),
    ("A\nB\nC\nD", "D", False),
    ("A or B\nB", "B", False),
    ("Looking at the chart, A and B are close.\nB or A", "B", False),
    ("B. C", "B", True, "multiple_choice", LETTER_OPTIONS),
    ("The answer is B (C).", "B", True, "multiple_choice", LETTER_OPTIONS),
    ("Option B: C", "B", True, "multiple_choice", LETTER_OPTIONS),
    ("C", "C", True, "multiple_choice", LETTER_OPTIONS),
    ("C", "B", False, "multiple_choice", LETTER_OPTIONS),
    ("B or C", "B", False, "multiple_choice", LETTER_OPTIONS),
    ("B. D", "B", False, "multiple_choice", LETTER_OPTIONS),
    ("B. C or D", "B", False, "multiple_choice", LETTER_OPTIONS),
], category="multiple_choice", question=MC)  # fmt: skip


# Number forms (issue 22): powers of ten without braces, e-notation, `\times 10^{n}`, mixed numbers, digits
# grouped with LaTeX spacing. Near misses: another exponent, another mantissa, an improper "mixed" number.
NUMBER_FORMS = cases("number_forms", [
    ("10^5", "100000", True, "numeric"),
    ("10^5", "100000", True),
    ("100000", "10^{5}", True),
    ("10^6", "100000", False, "numeric"),
    ("10^{-5}", "100000", False),
    ("1.2e-3", "0.0012", True, "numeric"),
    ("1.2E3", "1200", True),
    ("1.2e-3", "0.012", False, "numeric"),
    ("1.2e3", "0.0012", False),
    ("1.2 \\times 10^{-3}", "0.0012", True, "numeric"),
    ("3 x 10^5", "300000", True, "numeric"),
    ("3 \\times 10^{5}", "300,000", True),
    ("300,000", "3 \\times 10^{5}", True),
    ("3 \\cdot 10^5 m", "300 km", True, "numeric"),
    ("3 \\times 10^{5}", "3000000", False, "numeric"),
    ("3 \\times 10^{5}", "3 \\times 10^{6}", False),
    ("3.5 \\times 10^{5}", "300000", False, "numeric"),
    ("10^5 + 1", "100000", False, "numeric"),
    ("2 1/2", "2.5", True, "numeric"),
    ("2 1/2", "5/2", True),
    ("2.5", "2 1/2", True),
    ("2\\frac{1}{2}", "2.5", True, "numeric"),
    ("2\u00bd cups", "2.5", True, "numeric"),
    ("2 1/2", "2.25", False, "numeric"),
    ("2 1/2", "1", False, "numeric"),
    ("2 1/4", "2 1/2", False),
    ("2 3/2", "3.5", False, "numeric"),
    ("1\\,000", "1000", True, "numeric"),
    ("1{,}000", "1000", True),
    ("12\\,345.6", "12345.6", True, "numeric"),
    ("$1\\,000$", "1,000", True, "numeric"),
    ("1\\,001", "1000", False, "numeric"),
    ("1{,}000", "100", False, "numeric"),
])  # fmt: skip

# Greek letters as LaTeX, Unicode or words; a capital is another letter than its small form.
GREEK = cases("greek", [
    ("\\alpha", "\u03b1", True),
    ("alpha", "\\alpha", True),
    ("\u03b1", "alpha", True),
    ("\\theta", "\u03b8", True, "short_text"),
    ("theta", "\\theta", True, "math"),
    ("\\pi", "\u03c0", True),
    ("\u03c0/2", "\\frac{\\pi}{2}", True, "math"),
    ("\u0394", "\\Delta", True),
    ("2\\alpha", "2\u03b1", True),
    ("\\varphi", "\u03c6", True),
    ("Angle \u03b2", "angle beta", True, "short_text"),
    ("\\beta", "\\alpha", False),
    ("\u03b2", "alpha", False),
    ("\\alpha", "a", False),
    ("\\delta", "\\Delta", False),
    ("\u03b4", "\u0394", False, "short_text"),
    ("\\Delta", "\u03b4", False),
    ("\\pi/3", "\\frac{\\pi}{2}", False, "math"),
    ("2\\beta", "2\u03b1", False),
    ("Delta", "\\delta", True),  # a word is the small letter, whatever its first letter's case
    ("delta", "\\Delta", False),
    ("omega", "\u03a9", False),
])  # fmt: skip

LATEX_ARRAY = ("<image>Which angle is marked?\n$$\\begin{array}{ll} \\text{A. } 30^\\circ & \\text{B. } 45^\\circ \\\\ "
               "\\text{C. } 60^\\circ & \\text{D. } 90^\\circ \\end{array}$$")
AMC = "<image>What is x? $\\textbf{(A)}\\ 2 \\qquad\\textbf{(B)}\\ \\frac{1}{3} \\qquad\\textbf{(C)}\\ 4\\qquad\\textbf{(D)}\\ 5$"
# The answer given as an option's text when the options are laid out in LaTeX (an array, AMC's \textbf{(A)}).
LATEX_OPTIONS = cases("latex_options", [
    ("45^\\circ", "B", True, "multiple_choice", LATEX_ARRAY),
    ("45\u00b0", "B", True, "multiple_choice", LATEX_ARRAY),
    ("B", "B", True, "multiple_choice", LATEX_ARRAY),
    ("The answer is B.", "B", True, "multiple_choice", LATEX_ARRAY),
    ("60\u00b0", "B", False, "multiple_choice", LATEX_ARRAY),
    ("45", "B", False, "multiple_choice", LATEX_ARRAY),
    ("45\u00b0 or 60\u00b0", "B", False, "multiple_choice", LATEX_ARRAY),
    ("C", "B", False, "multiple_choice", LATEX_ARRAY),
    ("1/3", "B", True, "multiple_choice", AMC),
    ("\\frac{1}{3}", "B", True, "multiple_choice", AMC),
    ("(B)", "B", True, "multiple_choice", AMC),
    ("1/2", "B", False, "multiple_choice", AMC),
    ("2", "B", False, "multiple_choice", AMC),
    ("3", "B", False, "multiple_choice", AMC),
])  # fmt: skip

TIME_QUESTION = "<image>What time does the clock show?"
# Equivalent forms math-verify misses: a complex number as a product, `y =` vs `f(x) =`, clock times, font commands.
EQUIVALENT_FORMS = cases("equivalent_forms", [
    ("(1+i)(2-i)", "3+i", True),
    ("3+i", "(1+i)(2-i)", True),
    ("(1+i)^2", "2i", True, "math"),
    ("\\frac{1}{1+i}", "\\frac{1-i}{2}", True, "math"),
    ("(1+i)(2-i)", "3-i", False),
    ("(1+i)^2", "2", False, "math"),
    ("x+i", "x+1", False, "math"),
    ("y = 2x + 1", "f(x) = 2x + 1", True),
    ("f(x)=2x+1", "y=2x+1", True),
    ("g(x) = x^2", "y = x^{2}", True, "math"),
    ("y = 2x - 1", "f(x) = 2x + 1", False),
    ("x = 2y + 1", "y = 2x + 1", False),
    ("f(x) = 2x", "y = 2x + 1", False, "math"),
    ("3:30", "3:30 PM", True, None, TIME_QUESTION),
    ("3:30 PM", "15:30", True, None, TIME_QUESTION),
    ("15:30", "3:30", True, None, TIME_QUESTION),
    ("It shows 10:05.", "10:05", True, "short_text", TIME_QUESTION),
    ("3 o'clock", "3:00", True, None, TIME_QUESTION),
    ("3:45", "3:30", False, None, TIME_QUESTION),
    ("3:30 AM", "15:30", False, None, TIME_QUESTION),
    ("10:50", "10:05", False, None, TIME_QUESTION),
    ("3:30 or 4:30", "3:30", False, None, TIME_QUESTION),
    ("13:25", "1:25", False),  # a ratio: no time asked, no AM/PM
    ("\\mathcal{X}", "X", True),
    ("\\mathbf{v}", "v", True),
    ("\\boldsymbol{\\alpha}", "\\alpha", True),
    ("\\mathcal{A} \\cup \\mathcal{B}", "A \\cup B", True, "math"),
    ("\\mathcal{Y}", "X", False),
    ("\\mathbb{R}", "R", False),
    ("\\mathbb{Y}", "Y", False),  # a one-letter reference is a label, not "yes"
    ("Yes", "Y", False),
    ("\\mathcal{Y}", "Y", True),
    ("\\mathcal{A} \\cap \\mathcal{B}", "A \\cup B", False, "math"),
])  # fmt: skip

# A full sentence that states one value beside the quantity (and the values) the question names.
SENTENCE_VALUE = cases("sentence_value", [
    ("In 2019, 45 people visited.", "45", True, "numeric", "<image>How many people visited in 2019?"),
    ("The revenue in 2019 was 45 million.", "45", True, "numeric", "<image>What was the revenue in 2019 (millions)?"),
    ("The largest bar, labeled 2019, has a value of 42.", "42", True, "numeric"),
    ("The color of the car on the left is red.", "red", True, "short_text", "<image>What is the color of the car on the left?"),
    ("The car on the left is red.", "red", True, "short_text", "<image>What is the color of the car on the left?"),
    ("The element with atomic number 6 is carbon.", "carbon", True, "short_text",
     "<image>What is the name of the element with atomic number 6?"),
    ("In 2019, 46 people visited.", "45", False, "numeric", "<image>How many people visited in 2019?"),
    ("In 2019, 45 or 46 people visited.", "45", False, "numeric", "<image>How many people visited in 2019?"),
    ("It was 2018 or 2019.", "2019", False, "numeric", "<image>Which year had more sales, 2018 or 2019?"),
    ("The largest bar, labeled 2019, has a value of 41.", "42", False, "numeric"),
    ("The color of the car on the left is blue.", "red", False, "short_text", "<image>What is the color of the car on the left?"),
    ("The car on the left is not red.", "red", False, "short_text", "<image>What is the color of the car on the left?"),
    ("The car is red or blue.", "red", False, "short_text", "<image>What is the color of the car, red or blue?"),
    ("The car on the left is dark red.", "red", False, "short_text", "<image>What is the color of the car on the left?"),
])  # fmt: skip

# An answer that restates the question before its answer is no copied question; a copy that adds nothing is.
RESTATED_QUESTION = cases("restated_question", [
    ("The difference between the largest and the smallest bar is 7.", "7", True, "numeric",
     "<image>What is the difference between the largest and the smallest bar?"),
    ("How many apples are in the basket? 7", "7", True, "numeric", "<image>How many apples are in the basket?"),
    ("Yes, the cat is on the left of the dog.", "Yes", True, "yes_no", "<image>Is the cat on the left of the dog?"),
    ("The difference between the largest and the smallest bar is 8.", "7", False, "numeric",
     "<image>What is the difference between the largest and the smallest bar?"),
    ("How many apples are in the basket?", "7", False, "numeric", "<image>How many apples are in the basket?"),
    ("Is there no dog in the picture?", "No", False, "yes_no", "<image>Is there no dog in the picture?"),
    ("Is there no dogs in the pictures?", "No", False, "yes_no", "<image>Is there no dog in the picture?"),
    ("No, the cat is on the left of the dog.", "Yes", False, "yes_no", "<image>Is the cat on the left of the dog?"),
])  # fmt: skip


CHART_Q = "<image>What is the value of the tallest bar?"
# ChartQA rows: numbers within 5% of the gold are right (its "relaxed accuracy"), years exact. The control is the
# same answers on a row from no chart source: the default tolerance refuses them.
CHART = cases("chart", [
    ("41", "42", True),
    ("43.9", "42", True),
    ("40%", "41.5", True),
    ("The tallest bar is about 61.", "59.7", True),
    ("0.198", "0.2", True),
    ("44.5", "42", False),
    ("44.2", "42", False),  # 5.2% of the gold (4.98% of the answer): relative to the gold, as ChartQA
    ("39.8", "42", False),
    ("41 or 42", "42", False),
    ("2016", "2015", False),
    ("2015", "2015", True),
    ("1990", "1991", False),
    ("42", "Germany", False, "short_text"),
], category="numeric", question=CHART_Q, chart=True) + cases("chart_control", [
    ("41", "42", False),
    ("43.9", "42", False),
    ("0.198", "0.2", False),
    ("42", "42", True),
], category="numeric", question=CHART_Q)  # fmt: skip


# Written after the verifiers were changed and never tuned against: how the rules fare on answers they were
# not shaped by. Known misses are listed in HELD_OUT_MISSES with the reason (false rejects, never accepts).
HELD_OUT = cases("held_out", [
    ("y \\leq 3", "y \\le 3", True),
    ("y < 3", "y \\le 3", False),
    ("t > 0", "t \\geq 0", False),
    ("x \\geq 1", "1 \\leq x", True),
    ("The solution set is x > 4.", "x > 4", True),
    ("x = \\pm\\sqrt{3}", "\\pm\\sqrt{3}", True),
    ("\\sqrt{3}", "\\pm \\sqrt{3}", False),
    ("x = -1", "-1", True),
    ("k = 7", "7", True),
    ("k = 8", "7", False),
    ("(0, \\infty)", "(0, +\\infty)", True),
    ("[0, \\infty)", "(0, +\\infty)", False),
    ("(2, -1)", "(2,-1)", True),
    ("(-1, 2)", "(2,-1)", False),
    ("\\{-1, 1\\}", "\\{1, -1\\}", True),
    ("So the perimeter is 4 + 4 + 6 = 14 cm.", "14", True),
    ("So the perimeter is 4 + 4 + 6 = 14 cm.", "6", False),
    ("There are 7 people in the photo.", "7", True),
    ("There are 7 or 8 people in the photo.", "7", False),
    ("In 2015 there were 300 cases and in 2016 there were 450.", "450", False),
    ("The population is 2 500 000.", "2500000", True),
    ("The population is 2 500 000.", "2500", False),
    ("The answer is (C).", "C", True, "multiple_choice", MC),
    ("c", "C", True, "multiple_choice", MC),
    ("I would choose option d because it is smallest", "D", True, "multiple_choice", MC),
    ("Both A and D look similar, but A is taller", "A", False, "multiple_choice", MC),
    ("The correct answer is A or B.", "A", False, "multiple_choice", MC),
    ("Yes, the man is wearing a hat.", "Yes", True, "yes_no"),
    ("No. The man is not wearing a hat.", "No", True, "yes_no"),
    ("The man isn't wearing a hat.", "No", True, "yes_no"),
    ("The man isn't wearing a hat.", "Yes", False, "yes_no"),
    ("Probably yes", "Yes", False, "yes_no"),
    ("That's right.", "Yes", True, "yes_no"),
    ("e-mail", "email", True, "short_text"),
    ("Email address", "email", False, "short_text"),
    ("the UK", "United Kingdom (UK)", True, "short_text"),
    ("France (Paris)", "France", False, "short_text"),
    ("Red-Orange", "red orange", True, "short_text"),
    ("3 km", "3000 m", True, "numeric"),
    ("3 km", "3000 cm", False, "numeric"),
    ("45 minutes", "0.75 hours", True, "numeric"),
    ("45 minutes", "45 seconds", False, "numeric"),
    ("2.5 kg", "2500 g", True, "numeric"),
    ("100 \\text{ cm}^2", "1 \\text{ m}^2", False, "numeric"),
])  # fmt: skip
HELD_OUT_MISSES = {
    "The solution set is x > 4.": "prose around a relation: math-verify reads the whole $...$-wrapped sentence; a false "
    "reject (scores 0), never an accept",
}

ALL = RELATIONS + PLUS_MINUS + EQUATIONS + SETS_INTERVALS + VERBOSE + THOUSANDS + CHOICE + YES_NO + SHORT_TEXT + UNITS
ALL += HELD_OUT
ALL += YES_NO_BOTH + ABSTAIN + MEANING_MARKS + LABEL_PRIMES + HEDGE_UNKNOWN + TEN_OPTIONS
ALL += LETTERS_IN_TEXT
ALL += CHART + NUMBER_FORMS + GREEK + LATEX_OPTIONS + EQUIVALENT_FORMS + SENTENCE_VALUE + RESTATED_QUESTION
SETTINGS = RuleSettings()


async def scored(case: Case) -> bool:
    """As the hybrid reward scores a rule-route answer: the hack checks first (a copied question), then the rule."""
    if detect_hack(case.answer, case.question) is not None:
        return False
    outcome = await score_rule(case.answer, case.reference, case.category, case.question, SETTINGS, chart=case.chart)
    return outcome.acc == 1.0


def _param(case: Case):
    miss = HELD_OUT_MISSES.get(case.answer) if case.cls == "held_out" else None
    marks = [pytest.mark.xfail(strict=True, reason=miss)] if miss else []
    return pytest.param(case, marks=marks, id=f"{case.cls}:{case.answer[:30]}|{case.reference[:20]}|{case.category}")


@pytest.mark.parametrize("case", [_param(c) for c in ALL])
async def test_realistic_answer(case):
    assert await scored(case) == case.deserved


async def table() -> dict[str, tuple[int, int, int]]:
    """class -> (right, total, wrong accepts)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for case in ALL:
        accepted = await scored(case)
        row = counts[case.cls]
        row[0] += accepted == case.deserved
        row[1] += 1
        row[2] += accepted and not case.deserved
    return {cls: tuple(row) for cls, row in counts.items()}


if __name__ == "__main__":
    results = asyncio.run(table())
    print(f"{'class':<20} {'accuracy':>9} {'wrong accepts':>14}")
    for cls, (right, total, wrong) in results.items():
        print(f"{cls:<20} {right:>3}/{total:<3} {right / total:5.0%} {wrong:>8}")
    right, total = sum(r[0] for r in results.values()), sum(r[1] for r in results.values())
    print(f"{'all':<20} {right:>3}/{total:<3} {right / total:5.0%} {sum(r[2] for r in results.values()):>8}")


def test_unit_factors_agree_with_sympy_physics_units():
    """The conversion table is data typed by hand: checked against sympy's units, which math-verify brings."""
    from sympy.physics import units as u
    from sympy.physics.units import convert_to

    from rewards.units import read_unit

    pairs = {"mm": u.millimeter, "cm": u.centimeter, "km": u.kilometer, "inch": u.inch, "ft": u.foot,
             "mile": u.mile, "mg": u.milligram, "g": u.gram, "pound": u.pound, "ms": u.millisecond,
             "min": u.minute, "h": u.hour, "day": u.day, "mL": u.milliliter, "L": u.liter, "km/h": u.km / u.hour,
             "degree": u.degree, "cm^2": u.centimeter**2, "cm^3": u.centimeter**3}  # fmt: skip
    si = {"length": u.meter, "mass": u.kilogram, "time": u.second, "volume": u.meter**3, "speed": u.meter / u.second,
          "angle": u.radian, "length^2": u.meter**2}  # fmt: skip
    for spelling, unit in pairs.items():
        read, _ = read_unit(f" {spelling}", 0)
        assert read is not None, spelling
        expected = float(convert_to(unit, si[read.dimension]) / si[read.dimension])
        assert abs(read.factor - expected) <= 1e-9 * expected, (spelling, read.factor, expected)
    assert read_unit(" apples", 0)[0] is None and read_unit(" M", 0)[0] is None  # no unit, no guess
