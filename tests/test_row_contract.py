"""The row contract (`rewards/row.py`): the keys data prep writes are the keys it declares, the dataset and the
reward take the same route for a row, and the question text loses its image placeholders but keeps its lines."""

from __future__ import annotations

import asyncio

import pytest

from data_prep.parquet import rl_schema
from recipes.wethink.dataset import completed_extra_info
from rewards.hybrid import compute_score
from rewards.labels import DESCRIPTIVE, MODEL, NUMERIC, RULE
from rewards.row import EXTRA_INFO_KEYS, canonical_category, question_text, reward_route


@pytest.mark.parametrize("embed", [False, True])
def test_the_prepared_parquet_carries_exactly_the_declared_extra_info_keys(embed):
    struct = rl_schema(embed).field("extra_info").type
    assert tuple(struct.field(i).name for i in range(struct.num_fields)) == EXTRA_INFO_KEYS


@pytest.mark.parametrize(
    ("problem", "question"),
    [
        ("<image>How many bananas?", "How many bananas?"),
        ("<image>\nWhich bar is tallest?\nA. 12\nB. 42", "Which bar is tallest?\nA. 12\nB. 42"),
        ("Compare <image> and <image>.", "Compare and ."),
        ("Look:  <image>\nA. red\nB. blue", "Look:\nA. red\nB. blue"),  # the option lines stay lines
        ("<image><image>\n\nQ?", "Q?"),
        ("No image here.", "No image here."),
    ],
)
def test_question_text_drops_placeholders_and_keeps_line_breaks(problem, question):
    assert question_text(problem) == question


def test_question_text_is_not_the_problem_itself():
    """Negative control: a placeholder does change the text (the cases above are not all identities)."""
    assert question_text("<image>Q") != "<image>Q"


def test_the_route_is_the_known_method_first_then_inferred_from_the_category():
    assert reward_route(NUMERIC, "LLM judge") == (MODEL, False)  # any spelling the labels map
    assert reward_route(DESCRIPTIVE, "nonsense", "rule") == (RULE, False)  # the first known one
    assert reward_route(DESCRIPTIVE, None) == (MODEL, True)
    assert reward_route(NUMERIC, "nonsense") == (RULE, True)
    assert reward_route(canonical_category("Open-Ended")) == (MODEL, True)
    assert canonical_category("no such category") is None


@pytest.mark.parametrize(
    ("row", "route"),
    [
        ({"ability": "descriptive", "reward_model": {"style": "other"}}, "model"),
        ({"ability": "numeric", "reward_model": {"style": "other"}}, "rule"),
        ({"ability": "numeric", "reward_model": {"style": "llm"}}, "model"),
        ({"extra_info": {"category": "Open Ended"}}, "model"),
        ({"extra_info": {"reward_method": "rule", "category": "descriptive"}}, "rule"),
    ],
)
def test_the_dataset_fills_the_route_the_reward_takes(row, route):
    """What the dataset writes into `extra_info` and what the reward infers from the bare row agree."""
    messages = [{"role": "user", "content": "<image>Describe it."}]
    filled = completed_extra_info(row, messages)
    assert filled["reward_method"] == route and filled["question"] == "Describe it."
    info = row.get("extra_info") or {}
    bare = {**info, "category": row.get("ability") or info.get("category")}
    if (row.get("reward_model") or {}).get("style") != "llm":  # the reward reads extra_info only
        scored = asyncio.run(compute_score("wethink", "<think>t</think><answer>4</answer>", "4", bare))
        assert scored[f"route_{route}"] == 1
