"""The WeThink output format: exactly one `<think>...</think>`, then exactly one `<answer>...</answer>`, then nothing.

Format and answer are separate questions: a response that breaks the format still has its accuracy judged
from its last well-formed answer block, so the format reward alone carries the format signal.

Both read the whole response (up to max_response_length tokens, however many characters those hold), so both
work by string search, in time linear in the response: no pattern here is retried from position after position.
"""

from __future__ import annotations

import re

_TAGS = ("<think>", "</think>", "<answer>", "</answer>")
# End-of-turn markers a decoder may leave when special tokens are kept; they are not model text. Matched on the
# reversed response from its first character only: a search from every position of a long whitespace run (the
# obvious `(\s*marker)+\s*$`) costs the square of the run.
_END_MARKERS = ("<|im_end|>", "<|endoftext|>", "</s>")
_REVERSED_TAIL = re.compile("(?:\\s+|" + "|".join(re.escape(m[::-1]) for m in _END_MARKERS) + ")*")


def strip_end_markers(response: str) -> str:
    """The response without the end-of-turn markers (and the whitespace around them) that close it."""
    tail = _REVERSED_TAIL.match(response[::-1]).end()
    return response[: len(response) - tail] if response[len(response) - tail :].strip() else response


def is_well_formed(response: str) -> bool:
    """One think block, then one answer block, nothing after it (whitespace allowed anywhere between)."""
    text = strip_end_markers(response).strip()
    if any(text.count(tag) != 1 for tag in _TAGS):
        return False
    think_end, answer_start = text.find("</think>"), text.find("<answer>")
    return (
        text.startswith("<think>")
        and text.endswith("</answer>")
        and think_end < answer_start
        and not text[think_end + len("</think>") : answer_start].strip()
    )


def extract_answer(response: str) -> str | None:
    """The stripped body of the last well-formed `<answer>` block, or None when there is none.

    A block is an `<answer>` closed by a `</answer>` before any other `<answer>` opens ("<answer><answer>x</answer>"
    yields "x", not "<answer>x"). Found from the end: the last `<answer>` closed before the one after it."""
    after = len(response)
    while (start := response.rfind("<answer>", 0, after)) >= 0:
        end = response.find("</answer>", start + len("<answer>"), after + len("</answer>") - 1)
        if end >= 0:
            return response[start + len("<answer>") : end].strip()
        after = start
    return None
