"""Reading model replies strictly: refusals, `<answer>` blocks, JSON objects. Anything else is a rejection."""

from __future__ import annotations

import json
import re

from rewards.format import extract_answer

_REFUSAL = re.compile(
    r"^\W*(?:i'?m sorry|i am sorry|sorry,|i cannot|i can'?t|i can not|i'?m unable|i am unable|i'?m not able"
    r"|i am not able|i won'?t|as an ai\b|unfortunately,? i)",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^```(?:json)?\s*\n?(.*?)\n?```$", re.DOTALL | re.IGNORECASE)


class Rejected(Exception):
    """A stage refused its input: `kind` is a short stable code (for counting), `detail` says why."""

    def __init__(self, stage: str, kind: str, detail: str = ""):
        super().__init__(f"{stage}: {kind}" + (f": {detail}" if detail else ""))
        self.stage, self.kind, self.detail = stage, kind, detail

    def record(self, image: str, **extra: object) -> dict:
        reason = self.kind + (f": {self.detail}" if self.detail else "")
        return {"image": image, "stage": self.stage, "reason": reason, "kind": self.kind, **extra}


def is_refusal(text: str) -> bool:
    """A reply that opens by declining ("I'm sorry, I can't ...")."""
    return _REFUSAL.match(text.strip()) is not None


def require_text(stage: str, text: str) -> str:
    """The reply, unless it is empty or a refusal."""
    if not text.strip():
        raise Rejected(stage, "empty_reply")
    if is_refusal(text):
        raise Rejected(stage, "refusal", text.strip()[:200])
    return text.strip()


def split_answer(stage: str, text: str) -> tuple[str, str]:
    """(reasoning before the last `<answer>` block, the answer). Rejects a reply with no non-empty answer block."""
    text = require_text(stage, text)
    answer = extract_answer(text)
    if answer is None:
        raise Rejected(stage, "no_answer_tag", text[:200])
    if not answer:
        raise Rejected(stage, "empty_answer")
    reasoning = text[: text.rfind("<answer>")].strip()
    return reasoning, answer


def parse_json_object(stage: str, text: str) -> dict:
    """One JSON object, bare or as the only content of a ```json fence; nothing else is accepted."""
    text = require_text(stage, text)
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise Rejected(stage, "malformed_json", f"{exc}; reply starts {text[:120]!r}") from None
    if not isinstance(value, dict):
        raise Rejected(stage, "malformed_json", f"expected a JSON object, got {type(value).__name__}")
    return value
