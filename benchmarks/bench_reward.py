"""Benchmark of the hybrid reward (a script, not a test): throughput, tail latency, correctness, judge efficiency.

1. Rule route: one GRPO step of 512 prompts x 8 rollouts (4096 responses) in a realistic mix of categories,
   answer forms, format failures and hacks, scored the way verl's reward loop does (all samples of a worker
   gathered on one event loop). Reports throughput, p50/p99 latency, agreement with the generator's truth
   labels, and checks that no sample raised or timed out and no task leaked.
2. The same step's math rows against verl 0.9.1's built-in `default_compute_score` (data_source
   lighteval/MATH, answers in \\boxed{}) and against verl's own math-verify scorer
   (`verl.utils.reward_score.math_verify`) on the same answers: throughput ratios and agreement with truth.
3. Adversarial rule-route answers (issue 12's classes: flipped relations, one root of a \\pm, another variable,
   a changed bracket, several numbers with a hedge, another unit, options or yes/no hedged, a parenthetical
   hedge; issue 22's: yes and no both said, an abstention, a mark such as `++` / `#` / `=` / a prime dropped,
   a hedge across an option the parser does not know, ten options A-J, letters in the reasoning before a final
   answer; the near misses of issue 22's rules for right answers: number forms, mixed numbers, Greek letters and
   their case, options in LaTeX, y= / f(x)=, complex products, clock times, font commands, a sentence's value, a
   restated question, chart values and years) next to right answers in their many forms, each class generated
   with fresh values: the count of wrong answers accepted (must be 0) and of right answers refused.
4. Public cases (issue 22): every case of tests/test_reward_cases.py (answers as VLMs write them on public
   benchmarks: multiple choice up to ten options, charts, yes/no, short text, numbers, math; each with the verdict
   it deserves) scored by ours, by verl's math-verify scorer and by mathruler's `grade_answer` (EasyR1's rule
   reward) in one run: throughput of each as a ratio to ours, and agreement with the deserved verdicts.
5. Judge route: 512 descriptive responses (64 prompts x 8, GRPO groups repeat answers) against a loopback
   OpenAI-compatible judge with injected latency; wall time versus the ideal n * latency / concurrency, and
   judge calls saved by the verdict cache / in-flight de-duplication.

Usage: python benchmarks/bench_reward.py [--prompts 512] [--rollouts 8] [--judge-latency 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from rewards import math_equiv  # noqa: E402
from rewards.hybrid import compute_score  # noqa: E402

THINK = (
    "<think>First I look at the image carefully and read every label. "
    + "The relevant quantity is shown near the top left, and I compare it with the others step by step. " * 12
    + "</think>"
)


@dataclass
class Sample:
    response: str
    ground_truth: str
    extra_info: dict
    correct: bool  # what the answer deserves, known to the generator (False for format-less responses)
    boxed: str | None = None  # the same answer as verl's MATH scorer reads it (math rows only)


def _options(rng: random.Random) -> list[str]:
    values = rng.sample(range(2, 99), 4)
    return [str(v) for v in values]


def _multiple_choice(rng: random.Random):
    options = _options(rng)
    right = rng.randrange(4)
    letter = "ABCD"[right]
    question = "Which value does the chart show for March?\n" + "\n".join(
        f"{'ABCD'[i]}. {text}" for i, text in enumerate(options)
    )
    wrong = "ABCD"[(right + 1) % 4]
    answers = [(letter, True), (f"({letter})", True), (f"{letter}. {options[right]}", True), (options[right], True),
               (wrong, False), (f"{wrong}. {options[(right + 1) % 4]}", False), ("A B C D", False)]  # fmt: skip
    return question, letter, answers, [0.3, 0.15, 0.15, 0.1, 0.2, 0.08, 0.02]


def _numeric(rng: random.Random):
    value = rng.choice([rng.randint(2, 60), rng.randint(1000, 9999), round(rng.uniform(1, 50), 1)])
    shown = f"{value:,}" if isinstance(value, int) and value >= 1000 else str(value)
    answers = [(shown, True), (f"{value} cm", True), (f"x = {value}", True), (str(value + 1), False),
               (f"{value} or {value + 1}", False)]  # fmt: skip
    return "How long is the red segment in cm?", shown, answers, [0.45, 0.2, 0.1, 0.2, 0.05]


def _math(rng: random.Random):
    kind = rng.choice(["frac", "sqrt", "poly", "interval", "pi", "integer"])
    if kind == "frac":
        b = rng.choice([2, 4, 5, 8, 3, 7])
        a = rng.choice([n for n in range(1, 3 * b) if all(n % p or b % p for p in range(2, b + 1))])
        ref = f"\\frac{{{a}}}{{{b}}}"
        right = [f"\\frac{{{2 * a}}}{{{2 * b}}}", f"{a}/{b}", f"\\dfrac{{{a}}}{{{b}}}"]
        wrong = [f"\\frac{{{a + 1}}}{{{b}}}", f"\\frac{{{b}}}{{{a}}}"]
    elif kind == "sqrt":
        k, m = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7])
        ref = f"{k}\\sqrt{{{m}}}"
        right, wrong = [f"\\sqrt{{{k * k * m}}}", f"{k} \\sqrt{{{m}}}"], [f"{k + 1}\\sqrt{{{m}}}", f"\\sqrt{{{k * m}}}"]
    elif kind == "poly":
        a = rng.randint(1, 9)
        ref = f"x^2+{2 * a}x+{a * a}"
        right, wrong = [f"(x+{a})^2", f"x^{{2}} + {2 * a} x + {a * a}"], [f"(x-{a})^2", f"(x+{a + 1})^2"]
    elif kind == "interval":
        a, b = sorted(rng.sample(range(-9, 10), 2))
        ref = f"[{a}, {b})"
        right, wrong = [f"[{a},{b})"], [f"({a}, {b})", f"[{a}, {b}]"]
    elif kind == "pi":
        k, d = rng.choice([(1, 3), (2, 3), (1, 4), (3, 4), (1, 6), (5, 6)])
        ref = f"\\frac{{{k}\\pi}}{{{d}}}"
        right, wrong = [f"{k}\\pi/{d}" if k > 1 else f"\\pi/{d}"], [f"\\frac{{{k + 1}\\pi}}{{{d}}}"]
    else:
        n = rng.randint(2, 200)
        ref, right, wrong = str(n), [str(n), f"x = {n}"], [str(n + 1)]
    answers = [(ref, True)] + [(r, True) for r in right] + [(w, False) for w in wrong]
    weights = [0.35] + [0.35 / len(right)] * len(right) + [0.3 / len(wrong)] * len(wrong)
    return "Find the value shown in the figure.", ref, answers, weights


def _yes_no(rng: random.Random):
    ref = rng.choice(["Yes", "No"])
    other = "No" if ref == "Yes" else "Yes"
    answers = [(ref, True), (f"{ref.lower()}, it is.", True), (other, False), ("yes or no", False)]
    return "Is the traffic light green?", ref, answers, [0.55, 0.15, 0.27, 0.03]


def _short_text(rng: random.Random):
    words = ["red", "bicycle", "left", "umbrella", "kitchen", "giraffe", "wooden table", "blue car"]
    ref = rng.choice(words)
    other = rng.choice([w for w in words if w != ref])
    answers = [(ref, True), (f"The {ref.title()}.", True), (other, False)]
    return "What is the object next to the door?", ref, answers, [0.5, 0.2, 0.3]


CATEGORIES = [("multiple_choice", _multiple_choice, 0.40), ("numeric", _numeric, 0.25), ("math", _math, 0.15),
              ("yes_no", _yes_no, 0.10), ("short_text", _short_text, 0.10)]  # fmt: skip


def _wrap(answer: str, rng: random.Random) -> tuple[str, bool]:
    """A response around `answer` with realistic format noise; returns (response, answer block present)."""
    roll = rng.random()
    if roll < 0.08:
        return f"<answer>{answer}</answer>", True  # forgot to think
    if roll < 0.11:
        return f"{THINK}\nThe answer is {answer}.", False  # no answer block
    if roll < 0.13:
        return f"{THINK}<answer>{answer}</answer> Hope this helps!", True  # text after the answer
    return f"{THINK}\n<answer>{answer}</answer>", True


def make_rule_step(prompts: int = 512, rollouts: int = 8, seed: int = 0) -> list[Sample]:
    """One GRPO step of rule-route responses: `prompts` questions x `rollouts` answers each."""
    rng = random.Random(seed)
    samples = []
    for index in range(prompts):
        category, make, _ = rng.choices(CATEGORIES, weights=[c[2] for c in CATEGORIES])[0]
        question, reference, answers, weights = make(rng)
        info = {"reward_method": "rule", "category": category, "question": f"<image>{question}", "index": index}
        for _ in range(rollouts):
            answer, correct = rng.choices(answers, weights=weights)[0]
            response, has_block = _wrap(answer, rng)
            boxed = f"{THINK}\nSo the answer is $\\boxed{{{answer}}}$." if category == "math" else None
            samples.append(Sample(response, reference, dict(info), correct and has_block, boxed))
    return samples


def make_judge_step(prompts: int = 64, rollouts: int = 8, seed: int = 1) -> list[Sample]:
    """Descriptive (model-route) responses; each GRPO group repeats three distinct answers."""
    rng = random.Random(seed)
    samples = []
    for index in range(prompts):
        reference = f"A person in a yellow coat is walking a dog across bridge number {index}."
        answers = [(reference, True), (f"Someone walks a dog over bridge {index}.", True), ("A cat on a sofa.", False)]
        info = {"reward_method": "model", "category": "descriptive", "question": "<image>Describe the scene."}
        for _ in range(rollouts):
            answer, correct = rng.choice(answers)
            samples.append(Sample(f"{THINK}\n<answer>{answer}</answer>", reference, dict(info), correct))
    return samples


async def _timed(sample: Sample, kwargs: dict) -> tuple[dict, float]:
    start = time.perf_counter()
    result = await compute_score("wethink", sample.response, sample.ground_truth, sample.extra_info, **kwargs)
    return result, time.perf_counter() - start


async def score_all(samples: list[Sample], kwargs: dict) -> tuple[list, float]:
    """All samples gathered on one loop, as verl's RewardLoopWorker does; (results or exceptions, wall s)."""
    start = time.perf_counter()
    outputs = await asyncio.gather(*(_timed(s, kwargs) for s in samples), return_exceptions=True)
    wall = time.perf_counter() - start
    leaked = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if leaked:
        raise RuntimeError(f"{len(leaked)} tasks still pending after the step")
    return outputs, wall


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(name: str, samples: list[Sample], outputs: list, wall: float) -> dict:
    errors = [o for o in outputs if isinstance(o, BaseException)]
    results = [o for o in outputs if not isinstance(o, BaseException)]
    latencies = [dt for _, dt in results]
    timeouts = sum(r["timeout"] for r, _ in results)
    agree = sum((r["acc"] == 1.0) == s.correct for (r, _), s in zip(results, samples)) / max(1, len(results))
    print(f"{name}: {len(samples)} responses in {wall:.2f}s = {len(samples) / wall:,.0f}/s; "
          f"latency p50 {percentile(latencies, 50) * 1e3:.1f} ms, p99 {percentile(latencies, 99) * 1e3:.1f} ms; "
          f"exceptions {len(errors)}, timeouts {timeouts}; agreement with truth {agree:.1%}")  # fmt: skip
    return {"wall": wall, "errors": len(errors), "timeouts": timeouts, "agree": agree}


def verl_default_baseline(samples: list[Sample]) -> tuple[float, list[float], float]:
    """verl 0.9.1's default_compute_score (lighteval/MATH: string normalisation) on the same answers, boxed,
    called as fast as it goes: in a loop. Returns (wall s, latencies, agreement with truth)."""
    from verl.utils.reward_score import default_compute_score

    latencies, agree = [], 0
    start = time.perf_counter()
    for sample in samples:
        t0 = time.perf_counter()
        score = default_compute_score("lighteval/MATH", sample.boxed, sample.ground_truth)
        latencies.append(time.perf_counter() - t0)
        agree += (score == 1.0) == sample.correct
    return time.perf_counter() - start, latencies, agree / len(samples)


async def verl_math_verify_baseline(samples: list[Sample]) -> tuple[float, list[float], float]:
    """verl 0.9.1's own math-verify scorer (a 4-process spawn pool, blocking calls), run the way verl's naive
    manager runs a sync reward function: each call in the default thread pool, all gathered."""
    from verl.utils.reward_score import math_verify as verl_math_verify

    loop = asyncio.get_running_loop()
    warm = [loop.run_in_executor(None, verl_math_verify.compute_score, "\\boxed{1}", "1") for _ in range(8)]
    await asyncio.gather(*warm)  # start all its workers before timing (as ours is started before timing)

    def timed(sample: Sample) -> tuple[float, float]:
        t0 = time.perf_counter()
        score = verl_math_verify.compute_score(sample.boxed, sample.ground_truth)
        return score, time.perf_counter() - t0

    start = time.perf_counter()
    outputs = await asyncio.gather(*(loop.run_in_executor(None, timed, s) for s in samples))
    wall = time.perf_counter() - start
    agree = sum((score == 1.0) == s.correct for (score, _), s in zip(outputs, samples)) / len(samples)
    return wall, [dt for _, dt in outputs], agree


async def bench_rule(args) -> None:
    samples = make_rule_step(args.prompts, args.rollouts)
    kwargs = {"math_workers": args.math_workers}
    start = time.perf_counter()
    await compute_score("wethink", f"{THINK}<answer>e^{{0}}</answer>", "1", {"reward_method": "rule"}, **kwargs)  # math-verify: starts the pool
    print(f"math-verify pool start-up (once per reward worker process): {time.perf_counter() - start:.2f}s")

    outputs, wall = await score_all(samples, kwargs)
    step = report(f"rule step ({args.prompts} x {args.rollouts})", samples, outputs, wall)
    ok = step["errors"] == 0 and step["timeouts"] == 0
    print(f"  -> {'OK' if ok else 'FAILED'}: no exception, no timeout, no leaked task")

    math_rows = [s for s in samples if s.boxed is not None]
    # Cold start for the comparison: fresh memo and fresh workers (their parse cache), pool start-up excluded.
    math_equiv._verdicts.clear()
    pool = math_equiv.get_pool(args.math_workers)
    pool.shutdown()
    if hasattr(pool, "start"):  # every worker started before the clock (as the old pool's warm-up did)
        await asyncio.to_thread(pool.start)
    await compute_score("wethink", f"{THINK}<answer>\\sqrt{{9}}</answer>", "3", {"reward_method": "rule"}, **kwargs)
    outputs, wall = await score_all(math_rows, kwargs)
    ours = report(f"math rows, ours (math-verify, {args.math_workers} workers)", math_rows, outputs, wall)
    for name, (verl_wall, verl_latencies, verl_agree) in [
        ("verl default_compute_score (lighteval/MATH)", verl_default_baseline(math_rows)),
        ("verl math_verify.compute_score", await verl_math_verify_baseline(math_rows)),
    ]:
        print(f"math rows, {name}: {len(math_rows) / verl_wall:,.0f}/s; "
              f"p99 {percentile(verl_latencies, 99) * 1e3:.2f} ms; agreement with truth {verl_agree:.1%}")
        ratio = verl_wall / ours["wall"]
        print(f"  -> throughput ratio ours / {name.split(' (')[0]} on the same inputs: {ratio:.4f}x; "
              f"agreement {ours['agree']:.1%} vs {verl_agree:.1%}")  # fmt: skip
    if not ok:
        raise SystemExit(1)


def _adversarial_classes(rng: random.Random) -> list[tuple]:
    """(class, category, reference, right answers, wrong answers[, question]) with fresh values; question: plain
    figure, or four options for multiple choice."""
    a, b, c = rng.randint(2, 9), rng.randint(11, 40), rng.randint(2, 9)
    cm = rng.randint(2, 90)
    big = rng.randint(10000, 999999)
    yes_no = rng.choice(["Yes", "No"])
    not_yes_no = "No" if yes_no == "Yes" else "Yes"
    label = rng.choice("CFKMPQRSTX")
    near, far = rng.choice("EFGH"), rng.choice("KLMNOPQRSTUVWXYZ")
    ten_values = rng.sample(range(100, 999), 10)
    ten, other_ten = rng.sample("IJ", 2) if rng.random() < 0.5 else rng.sample("ABCDEFGHIJ", 2)
    ten_text = str(ten_values["ABCDEFGHIJ".index(ten)])
    ten_question = "<image>Which value is shown?\n" + "\n".join(f"{x}. {v}" for x, v in zip("ABCDEFGHIJ", ten_values))
    return [
        ("relations", None, f"x > {a}", [f"x>{a}", f"{a} < x", f"x \\gt {a}"],
         [f"x < {a}", f"x \\geq {a}", f"x > {a + 1}", f"{a}", f"x \\neq {a}"]),
        ("plus_minus", None, f"\\pm {a}", [f"x = \\pm {a}", f"{a}, -{a}", f"x = {a} or x = -{a}"],
         [f"{a}", f"-{a}", f"x = {a}", f"\\pm {a + 1}"]),
        ("equations", None, f"x = {b}", [f"{b}", f"x={b}"], [f"y = {b}", f"x = {b + 1}", f"x = \\pm {b}"]),
        ("intervals", None, f"[{a}, {b})", [f"[{a},{b})", f"x \\in [{a}, {b})"],
         [f"({a}, {b})", f"[{a}, {b}]", f"({a}, {b}]", f"[{b}, {a})"]),
        ("verbose", "numeric", str(b), [f"There are {a} red and {b - a} blue, so {b} in total.", f"{a} + {b - a} = {b}"],
         [f"There are {a} red and {b - a} blue, so {b + 1} in total.", f"The answer is {b} or {b + 1}.",
          f"I count {b}, maybe {b + 2}.", f"{a} + {b - a} = {b + 1}"]),
        ("thousands", "numeric", f"{big:,}", [f"{big:,}".replace(",", " "), f"{big:,}".replace(",", "\u202f")],
         [f"{big * 101 // 100:,}".replace(",", " "), f"{big // 1000}", f"{big // 1000} {big % 1000:03d} 7"]),
        ("units", "numeric", f"{cm} cm", [f"{cm * 10} mm", f"{cm / 100:g} m", f"{cm}"],
         [f"{cm} m", f"{cm} mm", f"{cm} kg", f"{cm * 10} cm"]),
        ("choice", "multiple_choice", "B", ["Option B is correct", "the answer is b because it is tallest", "(b)"],
         ["Either B or C is correct", "It could be A, but B seems better", "b or c", "Option C is correct"]),
        ("yes_no", "yes_no", "Yes", ["Yeah, it is.", "Absolutely.", "Yes, there is no doubt."],
         ["It is not correct.", "Not sure", "Maybe", "Definitely not", "I don't think so", "Yes and no"]),
        ("short_text", "short_text", "United States (USA)", ["USA", "the United States", "US (United States)"],
         ["Canada (USA)", "USA (Canada)", "United Kingdom"]),
        # issue 22's wrong-accept classes
        ("yes_no_both", "yes_no", yes_no, [f"{yes_no}, there is no doubt.", f"{yes_no}! {yes_no}, it is."],
         [f"{yes_no}. {not_yes_no}, actually.", f"{not_yes_no}. {yes_no}.", f"{yes_no}, wait, the answer is {not_yes_no.lower()}."]),
        ("abstain", "yes_no", "No", ["No, there is not.", "No, there is enough room."],
         ["Not enough information", "Insufficient information.", "Cannot be determined", "Unanswerable",
          "The image does not provide enough information."]),
        ("meaning_marks", "short_text", f"{label}++", [f"{label.lower()}++", f"{label}++"],
         [label, f"{label}#", f"{label}+", f"{label}=1"]),
        ("digit_marks", "short_text", f"{a}.{c}", [f"{a}.{c}"], [f"{a}{c}", f"{a}/{c}", f"{a}-{c}", f"{a}:{c}"]),
        ("label_primes", rng.choice(["short_text", "math", None]), f"{label}'", [f"{label}'", f"{label}\u2032",
         f"{label}^{{\\prime}}"], [label, f"{label}''", f"{label}\u2033"]),
        ("hedge_unknown", "multiple_choice", "B", ["B", "B, I think", "Option B, since point X is higher"],
         [f"B or {far}", f"B, or maybe {near}", f"B/{near}", f"The answer is B or ({far})."]),
        ("ten_options", "multiple_choice", ten, [ten, f"({ten})", f"The answer is {ten}.", ten_text],
         [f"{ten} or {other_ten}", f"{other_ten} or {ten}", f"{'B' if ten == 'A' else 'A'} or {ten}", other_ten], ten_question),
        ("letters_in_text", "multiple_choice", "B",
         ["Point C is lower than A, so the answer is B.", "Option A is wrong, option C is too small, so the answer is B.",
          "It could be A, but the correct answer is B.", "Comparing the bars, A is 12 and C is 7.\n\nB"],
         ["The answer is B, but A is also possible.", "Option B is correct, but option C also fits.",
          "The answer is A or B.", f"The answer is B or maybe {far}.", "Point B is lower than A, so the answer is C.",
          "A\nB\nC\nD", "A or B\nB"]),
    ]  # fmt: skip


def _issue22_classes(rng: random.Random) -> list[tuple]:
    """Issue 22's right-answer classes, each beside the near misses its new rule must still refuse: (class,
    category, reference, right answers, wrong answers[, question[, extra_info]])."""
    a, b = rng.randint(2, 9), rng.randint(11, 40)
    c = rng.choice([n for n in range(1, 10) if n != a])
    den = rng.choice([2, 4, 5, 8])
    num = rng.choice([n for n in range(1, den) if math.gcd(n, den) == 1])
    exp, mantissa = rng.randint(3, 8), rng.randint(2, 9)
    hour, minute = rng.randint(1, 11), rng.choice([5, 10, 20, 25, 35, 40, 50])
    year, value = rng.randint(1990, 2022), rng.randint(20, 90)
    greek, other_greek = rng.sample(["alpha", "beta", "theta", "phi", "omega", "lambda"], 2)
    capital = rng.choice(["Delta", "Gamma", "Omega", "Phi"])
    letter, other_letter = rng.sample("XYZUVW", 2)
    angles = rng.sample(range(20, 170, 5), 4)
    array = ("<image>Which angle is marked?\n$$\\begin{array}{ll} " + " & ".join(
        f"\\text{{{x}. }} {v}^\\circ" for x, v in zip("ABCD", angles)) + " \\end{array}$$")  # fmt: skip
    asked = f"<image>How many people visited the museum in {year}?"
    restated = "<image>What is the difference between the largest and the smallest bar?"
    return [
        ("number_forms", "numeric", str(mantissa * 10**exp),
         [f"{mantissa} \\times 10^{{{exp}}}", f"{mantissa}e{exp}", f"{mantissa} x 10^{exp}", f"{mantissa * 10**exp:,}"],
         [f"{mantissa} \\times 10^{{{exp + 1}}}", f"{mantissa + 1}e{exp}", f"10^{exp}", f"{mantissa}e-{exp}",
          f"10^{exp} + {mantissa}"]),
        ("mixed_numbers", "numeric", f"{a + num / den:g}", [f"{a} {num}/{den}", f"{a}\\frac{{{num}}}{{{den}}}"],
         [f"{a} {num}/{den + 1}", f"{a + 1} {num}/{den}", f"{a} {den}/{num}", f"{a}"]),
        ("greek", None, f"{a}\\{greek}", [f"{a}\\{greek}", f"{a} \\{greek}"],
         [f"{a}\\{other_greek}", f"{a}", f"{a + 1}\\{greek}", f"{a}\\{greek}^2"]),
        ("greek_case", None, f"\\{capital}", [f"\\{capital}", f"\\{capital} "],
         [f"\\{capital.lower()}", f"{capital.lower()}"]),
        ("latex_options", "multiple_choice", "B", [f"{angles[1]}^\\circ", f"{angles[1]}\u00b0", "B"],
         [f"{angles[2]}^\\circ", f"{angles[0]}\u00b0", f"{angles[1]}\u00b0 or {angles[2]}\u00b0", "C"], array),
        ("function_value", None, f"y = {a}x + {c}", [f"f(x) = {a}x + {c}", f"g(x)={a}x+{c}", f"y={c}+{a}x"],
         [f"y = {a}x - {c}", f"x = {a}y + {c}", f"f(x) = {a}x", f"y = {a + 1}x + {c}"]),
        ("complex", "math", f"{a * c + 1} + {c - a}i" if c > a else f"{a * c + 1} - {a - c}i",
         [f"({a} + i)({c} - i)"], [f"({a} - i)({c} + i)", f"({a} + i)({c} + i)", f"{a * c + 1}"]),
        ("clock", None, f"{hour}:{minute:02d} PM", [f"{hour + 12}:{minute:02d}", f"{hour}:{minute:02d}",
         f"{hour}:{minute:02d} p.m."], [f"{hour}:{minute:02d} AM", f"{hour + 1}:{minute:02d}",
         f"{hour}:{(minute + 5) % 60:02d} PM", f"{hour}:{minute:02d} or {hour + 1}:{minute:02d}"],
         "<image>What time does the clock show?"),
        ("fonts", None, letter, [f"\\mathcal{{{letter}}}", f"\\mathbf{{{letter}}}"],
         [f"\\mathcal{{{other_letter}}}", f"\\mathbb{{{letter}}}"]),
        ("sentence_value", "numeric", str(value), [f"In {year}, {value} people visited the museum."],
         [f"In {year}, {value + 1} people visited the museum.", f"In {year}, {value} or {value + 2} people visited.",
          f"{year}"], asked),
        ("restated_question", "numeric", str(b), [f"The difference between the largest and the smallest bar is {b}."],
         [f"The difference between the largest and the smallest bar is {b + 1}.",
          "What is the difference between the largest and the smallest bar?"], restated),
        ("chart", "numeric", str(value), [str(value)], [f"{value * 1.06:.1f}", f"{value * 0.94:.1f}"],
         "<image>What is the value of the tallest bar?", {"image_path": ["chartqa/bars.png"]}),
        ("chart_years", "numeric", str(year), [str(year)], [str(year + 1), str(year - 1)],
         "<image>In which year is the bar tallest?", {"image_path": ["chartqa/bars.png"]}),
    ]  # fmt: skip


def make_adversarial_step(rounds: int = 16, seed: int = 2) -> list[tuple[str, Sample]]:
    """(class, sample) pairs: every right and wrong form of every class, `rounds` times with fresh values."""
    rng = random.Random(seed)
    out = []
    for _ in range(rounds):
        for cls, category, reference, rights, wrongs, *asked in _adversarial_classes(rng) + _issue22_classes(rng):
            info = {"reward_method": "rule", "category": category,
                    "question": asked[0] if asked and asked[0] else "<image>Which bar is the tallest?\nA. 12\nB. 42\nC. 7\nD. 9"
                    if category == "multiple_choice" else "<image>Answer the question about the figure."}  # fmt: skip
            info.update(asked[1] if len(asked) > 1 else {})
            for answer, correct in [(r, True) for r in rights] + [(w, False) for w in wrongs]:
                out.append((cls, Sample(f"{THINK}\n<answer>{answer}</answer>", reference, dict(info), correct)))
    return out


async def bench_adversarial(args) -> None:
    labelled = make_adversarial_step()
    samples = [s for _, s in labelled]
    outputs, wall = await score_all(samples, {"math_workers": args.math_workers})
    per_class: dict[str, list[int]] = {}
    for (cls, sample), output in zip(labelled, outputs):
        accepted = not isinstance(output, BaseException) and output[0]["acc"] == 1.0
        row = per_class.setdefault(cls, [0, 0, 0, 0])  # wrong, wrong accepted, right, right refused
        row[0 if not sample.correct else 2] += 1
        row[1] += accepted and not sample.correct
        row[3] += sample.correct and not accepted
    wrong = sum(r[0] for r in per_class.values())
    wrong_accepts = sum(r[1] for r in per_class.values())
    right = sum(r[2] for r in per_class.values())
    refused = sum(r[3] for r in per_class.values())
    print(f"adversarial rule-route answers: {len(samples)} in {wall:.2f}s; wrong-accepts {wrong_accepts} of {wrong} "
          f"wrong answers; right answers refused {refused} of {right}")  # fmt: skip
    for cls, (n_wrong, accepted, n_right, rejected) in per_class.items():
        print(f"  {cls:<15} wrong-accepts {accepted:>3}/{n_wrong:<3} right refused {rejected:>3}/{n_right}")
    if wrong_accepts:
        raise SystemExit(1)


def _mathruler_round(cases: list) -> tuple[float, list[bool]]:
    """mathruler's grade_answer on each (answer, reference), called as fast as it goes: in a loop."""
    from mathruler.grader import grade_answer

    start = time.perf_counter()
    verdicts = [bool(grade_answer(case.answer, case.reference)) for case in cases]
    return time.perf_counter() - start, verdicts


async def _verl_math_verify_round(cases: list) -> tuple[float, list[bool]]:
    """verl's math-verify scorer on each answer, boxed, run the way verl's naive manager runs a sync reward."""
    from verl.utils.reward_score import math_verify as verl_math_verify

    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    scores = await asyncio.gather(*(loop.run_in_executor(None, verl_math_verify.compute_score,
                                                         f"\\boxed{{{case.answer}}}", case.reference) for case in cases))
    return time.perf_counter() - start, [score == 1.0 for score in scores]  # fmt: skip


async def _our_round(cases: list) -> tuple[float, list[bool]]:
    """Ours as the hybrid reward scores a rule-route answer (hack checks, then the rule), gathered on one loop as
    verl's reward loop does; the verdict memo and this process's text caches cleared first, so every check is
    computed (the baselines memoise nothing; the workers keep their parsed references, as in training)."""
    from rewards import choice, hacks, text
    from tests.test_reward_cases import scored

    math_equiv._verdicts.clear()
    for cache in (text._normalized, choice._options_of, hacks.question_stem):
        cache.cache_clear()
    start = time.perf_counter()
    verdicts = await asyncio.gather(*(scored(case) for case in cases))
    return time.perf_counter() - start, list(verdicts)


async def bench_public(args) -> None:
    """Rounds interleaved (ours, verl's math-verify, mathruler, again), each scorer's best round counted: the
    machine's load changes within a run, and the best round is each scorer's own speed."""
    from verl.utils.reward_score import math_verify as verl_math_verify

    from tests.test_reward_cases import ALL, scored

    await scored(ALL[0])  # our pool started (once per reward worker process), as the baselines warm theirs
    await asyncio.to_thread(math_equiv.get_pool(args.math_workers).start)
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(loop.run_in_executor(None, verl_math_verify.compute_score, "\\boxed{1}", "1") for _ in range(8)))
    rounds: dict[str, list[tuple[float, list[bool]]]] = {"ours": [], "verl math_verify": [], "mathruler": []}
    for _ in range(args.public_rounds):
        rounds["ours"].append(await _our_round(ALL))
        rounds["verl math_verify"].append(await _verl_math_verify_round(ALL))
        rounds["mathruler"].append(_mathruler_round(ALL))
    best = {name: min(wall for wall, _ in runs) for name, runs in rounds.items()}
    print(f"public cases: {len(ALL)} cases, {args.public_rounds} interleaved rounds per scorer, best round each")
    for name, runs in rounds.items():
        verdicts = runs[0][1]
        agree = sum(v == case.deserved for v, case in zip(verdicts, ALL)) / len(ALL)
        wrong = sum(v and not case.deserved for v, case in zip(verdicts, ALL))
        refused = sum(case.deserved and not v for v, case in zip(verdicts, ALL))
        print(f"  {name:<17} {len(ALL) / best[name]:>8,.0f} cases/s; ours / {name}: {best[name] / best['ours']:6.2f}x "
              f"throughput; agreement with the deserved verdicts {agree:.1%} (wrong accepts {wrong} of "
              f"{sum(not c.deserved for c in ALL)}, right refused {refused} of {sum(c.deserved for c in ALL)})")  # fmt: skip
    agree_pairs = {name: sum(a == b for a, b in zip(rounds["ours"][0][1], runs[0][1])) / len(ALL)
                   for name, runs in rounds.items() if name != "ours"}  # fmt: skip
    print("  verdicts shared with ours: " + ", ".join(f"{name} {share:.1%}" for name, share in agree_pairs.items()))


async def bench_judge(args) -> None:
    from tests.openai_server import ChatServer, Reply, last_user_text

    def judge(request: dict) -> Reply:  # a stand-in judge: same bridge number and a walk -> 1
        user = last_user_text(request)
        candidate = user.split("<candidate_answer>\n", 1)[1].split("\n</candidate_answer>", 1)[0]
        reference = user.split("<reference_answer>\n", 1)[1].split("\n</reference_answer>", 1)[0]
        same = re.findall(r"\d+", candidate) == re.findall(r"\d+", reference) and "walk" in candidate
        return Reply("1" if same else "0", delay=args.judge_latency)

    samples = make_judge_step()
    with ChatServer(judge) as server:
        kwargs = {"judge_url": server.base_url, "judge_model": "bench", "judge_max_concurrency": args.concurrency}
        outputs, wall = await score_all(samples, kwargs)
        calls = len(server.requests)
    report(f"judge step ({len(samples)} responses, latency {args.judge_latency * 1e3:.0f} ms)", samples, outputs, wall)
    ideal_all = len(samples) * args.judge_latency / args.concurrency
    ideal_calls = calls * args.judge_latency / args.concurrency
    print(f"  judge calls {calls} for {len(samples)} responses: {1 - calls / len(samples):.0%} saved by cache/dedup")
    print(f"  ideal n*latency/concurrency = {ideal_all:.2f}s without cache; {ideal_calls:.2f}s for the calls made; "
          f"measured {wall:.2f}s -> {ideal_all / wall:.2f}x the uncached ideal, "
          f"{ideal_calls / wall:.0%} of the ideal for the calls made")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=512)
    parser.add_argument("--rollouts", type=int, default=8)
    parser.add_argument("--math-workers", type=int, default=2)
    parser.add_argument("--judge-latency", type=float, default=0.2, help="seconds per judge request")
    parser.add_argument("--concurrency", type=int, default=32, help="judge_max_concurrency")
    parser.add_argument("--public-rounds", type=int, default=5, help="interleaved passes over the public cases per scorer")
    parser.add_argument("--parts", default="rule,adversarial,public,judge", help="comma-separated parts to run")
    args = parser.parse_args()
    parts = {"rule": bench_rule, "adversarial": bench_adversarial, "public": bench_public, "judge": bench_judge}
    for name in args.parts.split(","):
        asyncio.run(parts[name.strip()](args))


if __name__ == "__main__":
    main()
