"""Do two answers to one question agree? Judged exactly as training will score them: the rule route of
`rewards.rule` for multiple choice and fill-in-the-blank, and the training judge's own prompt and strict
verdict parsing (`rewards.judge`) for descriptive answers, where only the top tier counts as agreement.
The rule settings are the reward's defaults, built by `rewards.config` as training builds them.
"""

from __future__ import annotations

from data_prep import schema
from rewards.choice import extract_choice
from rewards.config import rule_settings
from rewards.judge import build_messages, parse_verdict
from rewards.rule import score_rule

from .models import ImageCalls
from .questions import LETTERS, Question
from .replies import Rejected

RULES = rule_settings()  # training's rule settings when reward_kwargs set none of them


def canonical_answer(question: Question, answer: str) -> str | None:
    """The answer as a row stores it: the option letter for multiple choice; None when it names no one option."""
    if question.category != schema.MULTIPLE_CHOICE:
        return answer.strip() or None
    letter = extract_choice(answer, dict(zip(LETTERS, question.options, strict=False)))
    return letter if isinstance(letter, str) else None


async def rule_agrees(question: Question, answer: str, reference: str) -> bool:
    """`answer` scores full accuracy against `reference` on the rule route (the category picks the verifier)."""
    outcome = await score_rule(answer, reference, question.category, question.problem, RULES)
    return outcome.acc == 1.0


async def judge_agrees(calls: ImageCalls, question: Question, answer: str, reference: str) -> bool:
    """Descriptive answers agree only on the top tier: a half-match is not a verified answer."""
    reply = await calls.send("judge", "judge", build_messages(question.problem, reference, answer))
    tier = parse_verdict(reply)
    if tier is None:
        raise Rejected("verify", "judge_unparseable", repr(reply.strip()[:80]))
    return tier == 1.0


async def agrees(calls: ImageCalls, question: Question, answer: str, reference: str) -> bool:
    if question.reward == schema.RULE:
        return await rule_agrees(question, answer, reference)
    return await judge_agrees(calls, question, answer, reference)
