"""The WeThink output format: exactly one `<think>...</think>`, then exactly one `<answer>...</answer>`, then nothing.

Format and answer are separate questions: a response that breaks the format still has its accuracy judged
from its last well-formed answer block, so the format reward alone carries the format signal.
"""

from __future__ import annotations

import re

_TAGS = ("<think>", "</think>", "<answer>", "</answer>")
_WELL_FORMED = re.compile(r"\s*<think>.*?</think>\s*<answer>.*?</answer>\s*", re.DOTALL)
# An answer block whose body opens no other <answer>: "<answer><answer>x</answer>" yields "x", not "<answer>x".
_ANSWER_BLOCK = re.compile(r"<answer>((?:(?!<answer>).)*?)</answer>", re.DOTALL)
# End-of-turn markers a decoder may leave when special tokens are kept; they are not model text.
_END_MARKERS = re.compile(r"(?:\s*(?:<\|im_end\|>|<\|endoftext\|>|</s>))+\s*$")


def strip_end_markers(response: str) -> str:
    return _END_MARKERS.sub("", response)


def is_well_formed(response: str) -> bool:
    """One think block, then one answer block, nothing after it (whitespace allowed anywhere between)."""
    response = strip_end_markers(response)
    if any(response.count(tag) != 1 for tag in _TAGS):
        return False
    return _WELL_FORMED.fullmatch(response) is not None


def extract_answer(response: str) -> str | None:
    """The stripped body of the last well-formed `<answer>` block, or None when there is none."""
    blocks = _ANSWER_BLOCK.findall(response)
    return blocks[-1].strip() if blocks else None
