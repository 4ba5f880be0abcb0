"""The cheap in-process math paths (rewards.math_fast) against math-verify itself, on the same pairs.

Every pair the cheap path decides must get math-verify's verdict (run here in this process, as a worker runs it);
the pairs it leaves alone (None) go to math-verify in the pool as before. The control: the cheap path does decide
most ordinary pairs, so the agreement check is not vacuous.
"""

import time

import pytest

from rewards.hybrid import MAX_RULE_ANSWER_CHARS
from rewards.math_equiv import EQUAL, verify_pair
from rewards.math_fast import DIFFERENT, MAX_CHARS, quick_verdict
from rewards.math_fast import EQUAL as SAME

PAIRS = [
    ("\\frac{\\pi}{2}", "\\pi/2"), ("2\\sqrt{3}", "\\sqrt{12}"), ("\\sqrt{12}", "3\\sqrt{2}"),
    ("(x+1)^2", "x^2+2x+1"), ("(x-1)^2", "x^2+2x+1"), ("x^{2}", "x^2 + 0"), ("\\frac{x^2-1}{x+1}", "x-1"),
    ("\\dfrac{3}{4}", "\\frac{6}{8}"), ("\\frac{3}{4}", "\\frac{4}{3}"), ("x^{-1}", "\\frac{1}{x}"),
    ("x > 5", "5 < x"), ("x \\geq 5", "x > 5"), ("x \\ge 5", "x \\geq 5"), ("x > -2", "x > 2"), ("x < 5", "5"),
    ("x = 3", "3"), ("x = 4", "3"), ("2x + 1", "y = 2x + 1"), ("x \\neq 3", "x = 3"),
    ("[0, 1)", "[0, 1]"), ("[0,1)", "[0, 1)"), ("(0, \\infty)", "(0, +\\infty)"), ("(2, 1)", "(1, 2)"),
    ("\\frac{2\\pi}{3}", "2\\pi/3"), ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}"), ("\\pi/2", "90"),
    ("\\beta", "\\alpha"), ("2\\alpha", "2 \\alpha"), ("a b", "ab"), ("3\\cdot 4", "12"), ("3 \\times 4", "13"),
    ("(1+i)(2-i)", "3+i"), ("(1+i)(2-i)", "3-i"), ("(1+i)^2", "2i"), ("\\frac{1}{1+i}", "\\frac{1-i}{2}"),
    ("\\boxed{15}", "15"), ("\\boxed{16}", "15"),
    ("x = \\pm 2", "\\pm 2"), ("\u00b12", "\\pm 2"), ("2, -2", "\\pm 2"), ("2", "\\pm 2"), ("\\pm 3", "\\pm 2"),
    ("3 + \\sqrt{2}", "3 \\pm \\sqrt{2}"), ("x = \\pm\\sqrt{3}", "\\pm\\sqrt{3}"), ("\\pm 2", "2"),
    ("\\{1, 2, 3\\}", "\\{3, 2, 1\\}"), ("\\{1, 2\\}", "\\{1, 2, 3\\}"), ("\\{-1, 1\\}", "\\{1, -1\\}"),
]  # fmt: skip
LEFT_ALONE = ["\\{1, 2\\} \\cup \\{3\\}", "e^{i\\pi}", "\\sin x", "x^{99999999}", "9^{9^{9^{9}}}", "1 < x < 3",
              "(x+1)^{99999999}", "\\sqrt[3]{8}", "cos x", "2 3"]  # fmt: skip


@pytest.mark.parametrize("answer, reference", PAIRS)
def test_a_cheap_verdict_is_math_verifys_verdict(answer, reference):
    quick = quick_verdict(answer, reference)
    if quick is not None:
        assert quick == (verify_pair(answer, reference) == EQUAL)


def test_the_cheap_path_decides_most_ordinary_pairs():
    decided = [quick_verdict(a, r) for a, r in PAIRS]
    assert sum(v is not None for v in decided) >= 0.8 * len(PAIRS)
    assert SAME in decided and DIFFERENT in decided


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_what_it_cannot_read_is_left_to_math_verify_at_once(text):
    start = time.process_time()
    assert quick_verdict(text, "8") is None
    assert time.process_time() - start < 1.0  # a hang bound: floats overflow, nothing grows


def _hostile(n: int) -> list[str]:
    """Answers of about `n` characters that a recursive-descent evaluator could choke on."""
    return [
        "(" * (n // 2) + "x" + ")" * (n // 2), "x+" * (n // 2) + "x", "2^" * (n // 2) + "2", "x^23" * (n // 4),
        "\\frac{" * (n // 7) + "1" + "}{2}" * (n // 7), "(1, " * (n // 4) + "2)", "\\pm x," * (n // 6) + "1",
        "x < " * (n // 4) + "1", "\\{" + "1," * (n // 2) + "2\\}", "(1+i)^{99}" * (n // 10), "1" * n,
    ]  # fmt: skip


@pytest.mark.parametrize("answer", _hostile(MAX_RULE_ANSWER_CHARS))
def test_a_hostile_answer_longer_than_the_cheap_path_reads_is_math_verifys_and_its_cut_to_size_never_raises(answer):
    """The cheap path runs on verl's event loop, so what it reads is capped (MAX_CHARS): a longer answer, up to
    the longest the rule route reads, is left to math-verify in the pool without being read; cut to the cap, the
    same hostile text is read and never raises. Its cost on the loop is bench_reward_hostile.py's figure (a
    timed assertion here failed on a loaded CI machine: 51 ms against the 50 ms budget, uncapped)."""
    assert len(answer) > MAX_CHARS
    assert quick_verdict(answer, "\\frac{1}{2}") is None and quick_verdict("\\frac{1}{2}", answer) is None
    cut = answer[:MAX_CHARS]
    assert quick_verdict(cut, "\\frac{1}{2}") in (None, SAME, DIFFERENT)
    assert quick_verdict("\\frac{1}{2}", cut) in (None, SAME, DIFFERENT)


def test_control_the_cap_is_on_length_alone_an_answer_at_the_cap_is_still_decided():
    padded = "\\frac{1}{2}" + " " * (MAX_CHARS - len("\\frac{1}{2}"))
    assert quick_verdict(padded, "0.5") is SAME and quick_verdict(padded + " ", "0.5") is None
