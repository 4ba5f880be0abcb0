"""Stage 1: the vision model's first description of the image."""

from __future__ import annotations

from collections import Counter

from .models import ImageCalls
from .replies import require_text
from .templates import Prompts

STAGE = "caption"


async def caption(calls: ImageCalls, prompts: Prompts, counts: Counter) -> str:
    counts[f"{STAGE}.in"] += 1
    text = require_text(STAGE, await calls.ask("vlm", STAGE, prompts.render(STAGE)))
    counts[f"{STAGE}.out"] += 1
    return text
