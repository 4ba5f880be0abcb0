"""Stage 6: one verified question as a row of the WeThink schema, which `data_prep.wethink` takes unchanged."""

from __future__ import annotations

from data_prep.schema import REQUIRED_FIELDS

from .questions import Question
from .verify import Verified


def build_row(question: Question, verified: Verified, refined_cot: str, image_path: str) -> dict:
    row = {
        "problem": question.problem,
        "answer": verified.answer,
        "category": question.label,  # "multiple choice" / "fill-in-the-blank" / "descriptive"
        "abilities": list(question.abilities),
        "refined_cot": refined_cot,
        "image_path": image_path,  # relative to --images
        "reward": question.reward,  # "rule" for choice / fill-in, "model" for descriptive
    }
    assert tuple(row) == REQUIRED_FIELDS, "row fields drifted from data_prep.schema.REQUIRED_FIELDS"
    return row
