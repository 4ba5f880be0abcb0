"""The reward's cost on the event loop is bounded whatever the policy writes (issue 26).

Hostile answers of each class the review found (tests/hostile_answers.py: a fence tag's name before a long
whitespace run, `0 = 1 = 2 ...` without a clause end, a computation chain without "=", ...), seeded and varied,
go through `compute_score` as verl calls it, the judge route against a real loopback judge. Each call's CPU on
the event loop (thread time: the judge server, the math workers and other processes do not count, nor does a
busy machine) must stay within `LOOP_BUDGET_SECONDS` (once the judge's HTTP clients and the math workers exist:
those are made once per event loop / process), and nothing may raise. The patterns behind each class are
also checked to grow linearly with their input (8x the input may cost at most MAX_GROWTH x the time; the
square would cost 64x), with the patterns of before as negative controls that the check catches.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import re
import time

import pytest

from rewards.chat_client import strip_thinking
from rewards.choice import _options_of, extract_choice
from rewards.format import is_well_formed, strip_end_markers
from rewards.hacks import copies_question, question_stem
from rewards.hybrid import LOOP_BUDGET_SECONDS, MAX_RULE_ANSWER_CHARS, RESULT_KEYS, compute_score
from rewards.judge import fence
from rewards.numeric import parse_number
from rewards.outcome import Reason
from rewards.text import verify_short_text
from tests.hostile_answers import CLASSES, MC_QUESTION
from tests.openai_server import ChatServer, Reply

RESPONSE_CHARS = 2048 * 64  # a response of max_response_length 2048 tokens, each as long as any BPE token
JUDGE_ROUTE = {"fence_tag", "special_token"}
WHOLE_RESPONSE = {"end_marker", "long_response"}
SEEDS = range(4)
RANDOM_CALLS = 150
MAX_GROWTH = 24  # for 8x the input; linear is 8, the square 64


def size_of(name: str) -> int:
    return RESPONSE_CHARS if name in JUDGE_ROUTE | WHOLE_RESPONSE else MAX_RULE_ANSWER_CHARS


async def scored_cpu(case, kwargs) -> tuple[float, dict]:
    """The call's CPU on this thread; after a collection, so that one the process's heap was due for (its cost is
    the heap's, hundreds of ms under pytest and verl) is not charged to the call. Run inside `heap_frozen`."""
    gc.collect()
    start = time.thread_time()
    result = await compute_score("wethink", case.response, case.ground_truth, case.extra_info, **kwargs)
    return time.thread_time() - start, result


@contextlib.contextmanager
def heap_frozen():
    """What the process held before (pytest, verl, torch: 0.4 s per full collection) moved out of the collector's
    reach, so the collection before each call scans only what the calls made: the same guarantee, at 1/100000 of
    the cost (that collection was two thirds of this file's time)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def test_every_hostile_class_stays_within_the_loop_budget_and_nothing_raises():
    with ChatServer(lambda request: Reply("0")) as judge, heap_frozen():
        kwargs = {"judge_url": judge.base_url, "judge_model": "judge", "judge_timeout": 10.0, "judge_retries": 0}
        # Once per event loop and process: the judge's HTTP clients, the math workers (not per call).
        warm = CLASSES["fence_tag"](random.Random(-1), 100)
        await compute_score("wethink", warm.response, warm.ground_truth, warm.extra_info, **kwargs)
        await compute_score("wethink", "<think>t</think><answer>\\sqrt{4}</answer>", "2", {"category": "math"})
        worst: dict[str, tuple[float, int]] = {}
        for name, generate in CLASSES.items():
            for seed in SEEDS:
                case = generate(random.Random(seed), size_of(name))
                cpu, result = await scored_cpu(case, kwargs)
                assert tuple(result) == RESULT_KEYS and result["reason"] != Reason.INTERNAL_ERROR, (name, seed)
                worst[name] = max(worst.get(name, (0.0, 0)), (cpu, seed))
        rng = random.Random(26)
        for _ in range(RANDOM_CALLS):
            case = CLASSES["random_soup"](rng, rng.choice([10, 100, 1000, MAX_RULE_ANSWER_CHARS]))
            cpu, result = await scored_cpu(case, kwargs)
            assert result["reason"] != Reason.INTERNAL_ERROR
            worst["random_soup"] = max(worst["random_soup"], (cpu, -1))
    shown = {name: f"{cpu * 1000:.1f} ms (seed {seed})" for name, (cpu, seed) in worst.items()}
    over = [name for name, (cpu, _) in worst.items() if cpu > LOOP_BUDGET_SECONDS]
    assert not over, f"{over} over the {LOOP_BUDGET_SECONDS * 1000:.0f} ms loop budget; worst per class: {shown}"


async def test_an_answer_longer_than_the_rule_verifiers_read_scores_zero_with_its_reason():
    long = "the answer is 42 " * (MAX_RULE_ANSWER_CHARS // 17 + 2)
    result = await compute_score("wethink", f"<think>t</think><answer>{long}</answer>", "42", {"category": "numeric"})
    assert (result["acc"], result["reason"], result["format"]) == (0.0, Reason.ANSWER_TOO_LONG, 1.0)
    right = await compute_score("wethink", "<think>t</think><answer>the answer is 42</answer>", "42",
                                {"category": "numeric"})  # fmt: skip
    assert right["acc"] == 1.0  # the control: the same statement, short, is right


# --- each class's patterns grow linearly ---------------------------------------------------------------------


def cpu_of(fn, text: str) -> float:
    """Least CPU time of three calls (noise only ever adds)."""
    best = float("inf")
    for _ in range(3):
        start = time.thread_time()
        fn(text)
        best = min(best, time.thread_time() - start)
    return best


def growth(fn, build, n: int) -> float:
    return cpu_of(fn, build(8 * n)) / max(cpu_of(fn, build(n)), 1e-6)


def _stem_uncached(question: str) -> str:
    return question_stem.__wrapped__(question)


LONG_QUESTION = "what is the man in the red shirt holding in his left hand " * 60
LINEAR = {  # class: (function, input of about n characters, n)
    "fence_tag": (fence, lambda n: "<question" + " " * n + "x", 2000),
    "fence_nested": (fence, lambda n: "<" * (n // 2) + "s>" * (n // 2), 1000),
    "special_token": (fence, lambda n: ("<|" + " " * 50 + "x") * (n // 53) + "[" + " " * n, 2000),
    "think_tags": (strip_thinking, lambda n: "<think>" * (n // 7), 4000),
    "end_marker": (strip_end_markers, lambda n: "x" + " " * n + "y", 16000),
    "end_markers_many": (is_well_formed, lambda n: "<think>t</think><answer>1</answer>" + "<|im_end|> " * (n // 11), 8000),
    "final_chain_eq": (parse_number, lambda n: " = ".join(map(str, range(n // 5))), 1000),
    "final_chain_is": (parse_number, lambda n: " is ".join(map(str, range(n // 6))), 1000),
    "worked": (parse_number, lambda n: "1+" * (n // 2) + "1", 1000),
    "cued_letter": (lambda text: extract_choice(text, {"A": "red", "B": "blue"}), lambda n: "answer" + " " * n + "x", 1000),
    "parenthetical": (lambda text: verify_short_text(text, "red"), lambda n: "red" + " " * n + "(x", 4000),
    "option_lines": (_options_of.__wrapped__, lambda n: "A. red" + " " * n + "x\nB. blue" + "\n" * n, 2000),
    "question_stem": (_stem_uncached, lambda n: "\n" * n + "A. x" + " " * n + "y", 2000),
    "copied_question": (lambda text: copies_question(text, LONG_QUESTION[: len(text)]),
                        lambda n: ("holding the red man in what shirt left his hand " * n)[:n], 500),
}  # fmt: skip


@pytest.mark.parametrize("name", LINEAR)
def test_the_patterns_of_each_class_grow_linearly(name):
    fn, build, n = LINEAR[name]
    assert growth(fn, build, n) < MAX_GROWTH


# The patterns of before (issue 26's findings), as negative controls: the growth check catches each of them.
OLD_FENCE = re.compile(r"<\s*/?\s*(?:question|reference[\W_]*answer|candidate[\W_]*answer)(?:\s[^<>]*)?\s*/?\s*>", re.I)
OLD_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
OLD_WORKED = re.compile(r"(?:(?<![\w.])\d[\d.,]*\s*(?:[-+*/\u00d7\u00f7\u00b7\u2212]|\sx\s)\s*)+\d[\d.,]*\s*(?==)")
OLD_END_MARKERS = re.compile(r"(?:\s*(?:<\|im_end\|>|<\|endoftext\|>|</s>))+\s*$")


@pytest.mark.parametrize(
    "old, build, n",
    [
        (lambda text: OLD_FENCE.sub("", text), lambda n: "<question" + " " * n, 60),
        (lambda text: OLD_THINK.sub("", text), lambda n: "<think>" * (n // 7), 2000),
        (lambda text: OLD_WORKED.sub(" ", text), lambda n: "1+" * (n // 2) + "1", 400),
        (lambda text: OLD_END_MARKERS.sub("", text), lambda n: "x" + " " * n + "y", 800),
    ],
    ids=["fence_tag", "think_tags", "worked", "end_marker"],
)
def test_the_growth_check_catches_the_patterns_of_before(old, build, n):
    assert growth(old, build, n) > MAX_GROWTH


def test_the_question_and_options_are_read_once_per_group():
    """A GRPO group's rollouts share their question: its options and stem are parsed once, from a bounded cache."""
    _options_of.cache_clear()
    for _ in range(5):
        extract_choice("B", dict(_options_of(MC_QUESTION)))
    info = _options_of.cache_info()
    assert (info.misses, info.hits, info.maxsize) == (1, 4, 256)
    assert question_stem.cache_info().maxsize == 256


async def test_concurrent_hostile_calls_all_answer(monkeypatch):
    """verl gathers a worker's samples on one loop: hostile and ordinary answers together all get a score."""
    rng = random.Random(7)
    cases = [CLASSES[name](rng, 2000) for name in CLASSES if name not in JUDGE_ROUTE for _ in range(3)]
    cases += [CLASSES["random_soup"](rng, 200) for _ in range(40)]
    results = await asyncio.gather(*(compute_score("w", c.response, c.ground_truth, c.extra_info) for c in cases))
    assert len(results) == len(cases) and all(r["reason"] != Reason.INTERNAL_ERROR for r in results)
