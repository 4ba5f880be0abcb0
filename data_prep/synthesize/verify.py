"""Stage 4: answer and verification. The reasoner answers from the description, the vision model from the image;
the question is kept when they agree. An optional arbiter (sees the image) settles a disagreement by siding
with one of them; otherwise the question is rejected with both answers in the reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .agreement import agrees, canonical_answer
from .models import ImageCalls
from .questions import Question
from .replies import Rejected, split_answer
from .templates import Prompts

STAGE = "verify"


@dataclass(frozen=True)
class Verified:
    answer: str  # canonical: the option letter for multiple choice
    trace: str  # reasoning that reached this answer (the reasoner's, or the arbiter's when it sided with the image)


def _clip(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


async def verify(
    calls: ImageCalls, prompts: Prompts, description: str, question: Question, counts: Counter
) -> Verified:
    """The verified answer, or Rejected. EndpointError propagates (the image is retried on the next run)."""
    counts[f"{STAGE}.in"] += 1
    answer_format = prompts.render(f"format_{question.category}")
    text_prompt = prompts.render(
        "answer_text", description=description, problem=question.problem, answer_format=answer_format
    )
    trace, reference = split_answer(STAGE, await calls.ask("reasoner", "answer_text", text_prompt))
    if not trace:
        raise Rejected(STAGE, "no_reasoning", "the reasoner gave an answer without reasoning")
    kept = canonical_answer(question, reference)
    if kept is None:
        raise Rejected(STAGE, "unparseable_answer", f"reasoner answer {_clip(reference)!r} names no single option")
    image_prompt = prompts.render("answer_image", problem=question.problem, answer_format=answer_format)
    try:
        _, seen = split_answer(STAGE, await calls.ask("vlm", "answer_image", image_prompt))
    except Rejected as unusable:  # a refusal or a missing <answer> is a disagreement the arbiter may settle
        seen, disagreement = None, f"vision reply unusable ({unusable.kind})"
    else:
        if await agrees(calls, question, seen, reference):
            counts[f"{STAGE}.agreed"] += 1
            return Verified(kept, trace)
        disagreement = f"reasoner {_clip(reference)!r} vs vision {_clip(seen)!r}"
    if not calls.has("arbiter"):
        raise Rejected(STAGE, "disagreement", disagreement)
    arbiter_prompt = prompts.render(
        "arbiter", description=description, problem=question.problem, answer_format=answer_format
    )
    arbiter_trace, ruling = split_answer(STAGE, await calls.ask("arbiter", "arbiter", arbiter_prompt))
    if await agrees(calls, question, ruling, reference):
        counts[f"{STAGE}.arbiter_settled"] += 1
        return Verified(kept, trace)
    if seen is not None and await agrees(calls, question, ruling, seen):
        ruled = canonical_answer(question, ruling)
        if arbiter_trace and ruled is not None:
            counts[f"{STAGE}.arbiter_settled"] += 1
            return Verified(ruled, arbiter_trace)
    raise Rejected(STAGE, "disagreement", f"{disagreement}; arbiter {_clip(ruling)!r} settles neither")
