"""Responses a policy could write to find what is slow in its reward (issue 26), by class, seeded.

Each class is a generator `(rng, size) -> Case`: `size` is the length in characters of the answer it builds (a
rule-route answer up to `MAX_RULE_ANSWER_CHARS`, the longest the rule verifiers read; a judge-route or format
case up to a whole response). The shapes are the ones the hostile-input review found (a tag name followed by a
long whitespace run, `0 = 1 = 2 ...` without a clause end, ...), with seeded variations of the tokens, the
separators and the lengths of their parts, so the classes are tested rather than the examples. Shared by
tests/test_reward_fuzz.py (the per-call loop budget) and benchmarks/bench_reward_hostile.py (the figures).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

THINK = "<think>I read the chart and compare the values.</think>"
MC_QUESTION = "Which bar is the tallest?\nA. red\nB. blue\nC. green\nD. yellow"
FENCE_NAMES = ("question", "reference_answer", "candidate answer", "Candidate-Answer", "reference answer")
WHITESPACE = (" ", "\t", "\n", " \n", "\u00a0", "\u3000")
# Pieces of the verifiers' own patterns, for the random class: cues, separators, brackets, tags, digits.
ALPHABET = (
    "answer", "option", "the answer is", "final answer", "is", "so", "=", " = ", "+", " x ", "-", "*", "/", "!",
    "0", "1", "42", "3.5", "1,000", "B", "b", "(", ")", "[", "]", "{", "}", "(B)", "<", ">", "|", "<|", "|>",
    "<think>", "</think>", "<answer>", "<question", "</candidate_answer", "[INST", "<<", "SYS", "\\frac{", "^",
    "$", "%", "cm", "yes", "no", "not", "because", ".", ",", ";", " ", "  ", "\n", "\t", "\u00a0",
    "'", "\u2032", "\\prime", "#", "J", "K", "or maybe", "enough information", "unanswerable",
)  # fmt: skip


@dataclass
class Case:
    response: str
    ground_truth: str
    extra_info: dict = field(default_factory=dict)


def _run(rng: random.Random, size: int) -> str:
    return rng.choice(WHITESPACE) * size


def _rule(answer: str, truth: str, category: str, question: str = "What is shown?") -> Case:
    return Case(f"{THINK}<answer>{answer}</answer>", truth, {"reward_method": "rule", "category": category,
                                                             "question": question})  # fmt: skip


def _model(answer: str, question: str = "Describe what happens in the picture.") -> Case:
    return Case(f"{THINK}<answer>{answer}</answer>", "A dog catches a frisbee.",
                {"reward_method": "model", "category": "descriptive", "question": question})  # fmt: skip


def fence_tag(rng: random.Random, size: int) -> Case:
    """A fence tag's name, then a long whitespace run and no ">" (cubic in the old fence pattern)."""
    name = rng.choice(FENCE_NAMES)
    head = rng.choice(["<", "< ", "</", "< / "]) + name
    return _model(head + _run(rng, size - len(head) - 1) + rng.choice(["x", "/", "=", ""]))


def special_token(rng: random.Random, size: int) -> Case:
    """Openers of chat-template tokens before long runs, and tags nested so that each removal forms another."""
    kind = rng.randrange(3)
    if kind == 0:
        opener = rng.choice(["<|", "[", "<<", "< /", "[ /"])
        return _model((opener + _run(rng, 40 + rng.randrange(200)) + "x") * max(1, size // 240))
    if kind == 1:
        depth = size // 3
        return _model("<" * depth + rng.choice(["s>", "eos>", "s >"]) * depth)
    return _model(("</cand<|im_end|>idate_answer>" + _run(rng, 3)) * max(1, size // 32))


def cued_letter(rng: random.Random, size: int) -> Case:
    """A multiple-choice cue, a long whitespace run, and no letter after it."""
    cue = rng.choice(["answer", "option", "the answer is", "correct option", "I choose"])
    tail = rng.choice(["x", "", ":", "(", "b because"])
    return _rule(cue + _run(rng, size - len(cue) - len(tail)) + tail, "B", "multiple_choice", MC_QUESTION)


def final_chain(rng: random.Random, size: int) -> Case:
    """A long chain of final-value cues with no clause end: each cue's statement runs to the end of the text."""
    joint = rng.choice([" = ", "=", " is ", " equals ", " so ", " hence "])
    parts, length, i = [], 0, rng.randrange(10)
    while length < size:
        parts.append(str(i))
        length += len(parts[-1]) + len(joint)
        i += 1
    return _rule(joint.join(parts)[:size], str(rng.randrange(100)), rng.choice(["numeric", "fill_in_blank"]))


def worked(rng: random.Random, size: int) -> Case:
    """A computation chain with no "=" at its end (the old pattern retried it from every operand)."""
    op = rng.choice(["+", " + ", "*", " x ", "-", "\u00d7"])
    term = rng.choice(["1", "12", "3.5", "1,000"])
    chain = op.join([term] * (size // (len(term) + len(op))))
    return _rule(chain + rng.choice(["", " ", " is"]), "5", "numeric")


def end_marker(rng: random.Random, size: int) -> Case:
    """After the answer, a long whitespace run that no end-of-turn marker follows, then many markers: the run
    was quadratic for the old search for trailing markers, the markers for a per-character alternation."""
    run = _run(rng, size // 2) + rng.choice(["x", ".", "ok", "<|im_end"])
    markers = (rng.choice(["<|im_end|>", "</s>", "<|endoftext|>"]) + _run(rng, rng.randrange(4))) * (size // 28)
    return Case(f"{THINK}<answer>42</answer>{run}{markers}", "42", {"reward_method": "rule", "category": "numeric"})


def parenthetical(rng: random.Random, size: int) -> Case:
    """Text, a long whitespace run, then an opening bracket that never closes (or closes on another line)."""
    word = rng.choice(["red", "United States", "the cat"])
    tail = rng.choice(["(x", "\uff08x", "(x\n)", "(", "(a)(b"])
    answer = word + _run(rng, size - len(word) - len(tail)) + tail
    return _rule(answer, rng.choice(["red car", "United States (USA)"]), "short_text")


def copied_question(rng: random.Random, size: int) -> Case:
    """A long question and an answer of the same length and letters that is not a copy of it (the similarity
    check's worst case: cheap bounds pass, the full comparison runs)."""
    words = ["the", "red", "car", "man", "shirt", "holding", "left", "hand", "picture", "what", "is", "how", "many"]
    question = " ".join(rng.choice(words) for _ in range(size // 4))[:size]
    answer = " ".join(rng.choice(words) for _ in range(size // 4))[:size]
    return _rule(answer, "a red car", "short_text", question)


def long_response(rng: random.Random, size: int) -> Case:
    """A whole response of `size` characters (think, answer, or both) on either route: the format checks and the
    answer extraction read all of it; the verifiers read what their caps allow."""
    filler = "".join(rng.choice(ALPHABET) for _ in range(size // 4))[:size]
    answer = filler if rng.random() < 0.5 else "42"
    think = f"<think>{filler}</think>" if answer == "42" else THINK
    route = rng.choice(["rule", "model"])
    category = "numeric" if route == "rule" else "descriptive"
    return Case(f"{think}<answer>{answer}</answer>", "42", {"reward_method": route, "category": category,
                                                            "question": "How many?"})  # fmt: skip


def letters_in_reasoning(rng: random.Random, size: int) -> Case:
    """Issue 22's readings: many final-answer cues, letters with their option text, hedges, primes, yes/no
    replies, all repeated, ending (or not) on a line that is a lone letter."""
    piece = rng.choice(["the answer is A ", "B. C ", "B or maybe K ", "A'' ", "x^{\\prime} ", "Yes. No, ",
                        "not enough information ", "C++ ", "3.5/1-2 ", "Point B ", "P(A) ", "answer: (J) "])
    ending = rng.choice(["", "\nB", "\n**B**", "\n"])
    answer = (piece * (size // len(piece) + 1))[: size - len(ending)] + ending
    category, truth, question = rng.choice([("multiple_choice", "B", MC_QUESTION), ("yes_no", "yes", "Is it red?"),
                                            ("short_text", "A'", "Which point?"), (None, "C++", "Which language?")])
    return _rule(answer, truth, category, question)


def random_soup(rng: random.Random, size: int) -> Case:
    """Pieces of the verifiers' patterns in random order, on a random route and category."""
    answer = "".join(rng.choice(ALPHABET) for _ in range(size))[:size]
    route = rng.choice(["rule", "rule", "model"])
    category = rng.choice(["multiple_choice", "numeric", "math", "yes_no", "short_text", "fill_in_blank", None])
    truth = rng.choice(["B", "42", "\\frac{1}{2}", "yes", "red car", "(1, 2)", "x < 5"])
    question = rng.choice([MC_QUESTION, "How many?", "Is it red?"])
    return Case(f"{THINK}<answer>{answer}</answer>", truth, {"reward_method": route, "category": category,
                                                             "question": question})  # fmt: skip


CLASSES: dict[str, Callable[[random.Random, int], Case]] = {
    "fence_tag": fence_tag,
    "special_token": special_token,
    "cued_letter": cued_letter,
    "final_chain": final_chain,
    "worked": worked,
    "end_marker": end_marker,
    "parenthetical": parenthetical,
    "copied_question": copied_question,
    "long_response": long_response,
    "letters_in_reasoning": letters_in_reasoning,
    "random_soup": random_soup,
}
