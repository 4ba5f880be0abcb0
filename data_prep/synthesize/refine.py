"""Stage 2: multi-turn refinement. The reasoner names what it still needs to see, the vision model answers,
for at most `turns` rounds; then the vision model writes the final fine-grained description (skipped when the
first round asks nothing: the caption already is the description).

Refinement only adds detail, so a reasoner reply that is not the expected JSON ends the rounds early (counted
as `refine.malformed`) instead of dropping the image; a refused or empty final description drops it.
"""

from __future__ import annotations

from collections import Counter

from .models import ImageCalls
from .replies import Rejected, is_refusal, parse_json_object, require_text
from .templates import Prompts

STAGE = "refine"
MAX_ASKS = 5


def _asks(reply: dict) -> list[str]:
    asks = reply.get("ask")
    if not isinstance(asks, list) or not all(isinstance(a, str) for a in asks):
        raise Rejected(STAGE, "malformed_json", 'expected {"ask": [strings]}')
    return [a.strip() for a in asks if a.strip()][:MAX_ASKS]


def format_notes(notes: list[tuple[list[str], str]]) -> str:
    if not notes:
        return "(none yet)"
    blocks = []
    for asks, answer in notes:
        blocks.append("\n".join(f"Q: {a}" for a in asks) + f"\nA: {answer}")
    return "\n\n".join(blocks)


async def refine(calls: ImageCalls, prompts: Prompts, description: str, turns: int, counts: Counter) -> str:
    """The final description. With `turns == 0` the caption is the description (no extra calls)."""
    counts[f"{STAGE}.in"] += 1
    if turns <= 0:
        counts[f"{STAGE}.out"] += 1
        return description
    notes: list[tuple[list[str], str]] = []
    for _ in range(turns):
        reply = await calls.ask(
            "reasoner",
            "refine_ask",
            prompts.render("refine_ask", description=description, notes=format_notes(notes), max_asks=MAX_ASKS),
        )
        try:
            asks = _asks(parse_json_object(STAGE, reply))
        except Rejected:
            counts[f"{STAGE}.malformed"] += 1
            break
        if not asks:
            break
        numbered = "\n".join(f"{i}. {a}" for i, a in enumerate(asks, 1))
        answer = await calls.ask("vlm", "refine_answer", prompts.render("refine_answer", asks=numbered))
        if not answer.strip() or is_refusal(answer):
            counts[f"{STAGE}.refused"] += 1
            break
        counts[f"{STAGE}.turns"] += 1
        notes.append((asks, answer.strip()))
    if not notes:  # the reasoner needed nothing more: the caption already is the fine-grained description
        counts[f"{STAGE}.out"] += 1
        return description
    final = await calls.ask(
        "vlm", "describe", prompts.render("describe", description=description, notes=format_notes(notes))
    )
    final = require_text(STAGE, final)
    counts[f"{STAGE}.out"] += 1
    return final
