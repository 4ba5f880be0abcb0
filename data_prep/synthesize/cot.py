"""Stage 5: the reasoning path. The trace that reached the verified answer is rewritten into a concise
`refined_cot`; the rewrite must end in the same answer (rule-checked for choice / fill-in), or it is rejected.
"""

from __future__ import annotations

from collections import Counter

from data_prep import schema

from .agreement import rule_agrees
from .models import ImageCalls
from .questions import Question
from .replies import Rejected, split_answer
from .templates import Prompts
from .verify import Verified

STAGE = "cot"


async def refine_cot(
    calls: ImageCalls, prompts: Prompts, description: str, question: Question, verified: Verified, counts: Counter
) -> str:
    counts[f"{STAGE}.in"] += 1
    prompt = prompts.render(
        "cot", problem=question.problem, description=description, trace=verified.trace, answer=verified.answer
    )
    cot, answer = split_answer(STAGE, await calls.ask("reasoner", STAGE, prompt))
    if not cot:
        raise Rejected(STAGE, "empty_cot")
    # Descriptive answers would need another judge call; the rewrite is given the answer to keep, so trust it.
    if question.reward == schema.RULE and not await rule_agrees(question, answer, verified.answer):
        raise Rejected(STAGE, "inconsistent_answer", f"rewrite ends in {answer[:80]!r}, verified {verified.answer!r}")
    counts[f"{STAGE}.out"] += 1
    return cot
