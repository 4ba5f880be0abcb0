"""Per-route step metrics: exact numbers on hand-written rows, omission instead of NaN, odd inputs, judge health."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recipes.wethink.metrics import judge_health, step_metrics
from rewards.hybrid import RESULT_KEYS
from rewards.outcome import Reason


def sample(route: str, acc: float, category: str | None = "numeric", length: int = 100, **kw) -> dict:
    """A reward dict shaped like rewards.hybrid's, plus the trainer hook's category / response_length."""
    rule, model = int(route == "rule"), int(route == "model")
    row = {
        "acc": acc, "format": 1.0, "route_rule": rule, "route_model": model,
        "route_inferred": 0, "acc_rule": acc * rule, "acc_model": acc * model, "judged": 0, "judge_ok": 0,
        "cache_hit": 0, "timeout": 0, "reason": int(Reason.SCORED),
    }  # fmt: skip
    row.update(kw)
    if "score" not in row:
        row["score"] = 0.7 * float(acc) + 0.3 * float(row["format"])  # hybrid's default weights
    return {**row, "category": category, "response_length": length}


def mixed_step() -> list[dict]:
    """3 rule samples (acc 1, 0, 1) and 2 model samples (judge_ok 1, 0: the second one's judge is down)."""
    return [
        sample("rule", 1.0, "multiple_choice", 100),
        sample("rule", 0.0, "numeric", 200, format=0.0, reason=int(Reason.UNPARSEABLE)),
        sample("rule", 1.0, "numeric", 300, route_inferred=1),
        sample("model", 1.0, "descriptive", 400, judged=1, judge_ok=1),
        sample("model", 0.0, None, 600, judged=1, timeout=1, reason=int(Reason.JUDGE_DOWN)),
    ]


def test_sample_helper_matches_the_reward_contract():
    assert set(RESULT_KEYS) | {"category", "response_length"} == set(sample("rule", 1.0))


def test_mixed_step_exact_numbers():
    m = step_metrics(mixed_step())
    assert m["wethink/rule/acc"] == pytest.approx(2 / 3)
    assert m["wethink/model/acc"] == pytest.approx(1 / 2)
    assert m["wethink/rule/share"] == pytest.approx(3 / 5)
    assert m["wethink/model/share"] == pytest.approx(2 / 5)
    assert m["wethink/inferred_route/share"] == pytest.approx(1 / 5)
    assert m["wethink/format"] == pytest.approx(4 / 5)
    assert m["wethink/score"] == pytest.approx((0.7 * 3 + 0.3 * 4) / 5)
    assert m["wethink/judge_ok"] == pytest.approx(1 / 2)
    assert m["wethink/cache_hit"] == 0.0
    assert m["wethink/judged"] == 2.0  # a count, not a share
    assert m["wethink/timeout"] == pytest.approx(1 / 5)
    assert m["wethink/missing_reward_info"] == 0.0
    assert m["wethink/reason/SCORED"] == pytest.approx(3 / 5)
    assert m["wethink/reason/UNPARSEABLE"] == pytest.approx(1 / 5)
    assert m["wethink/reason/JUDGE_DOWN"] == pytest.approx(1 / 5)
    assert m["wethink/category/multiple_choice/acc"] == 1.0
    assert m["wethink/category/numeric/acc"] == pytest.approx(1 / 2)
    assert m["wethink/category/descriptive/acc"] == 1.0
    assert m["wethink/category/unknown/acc"] == 0.0
    assert m["wethink/rule/response_length"] == pytest.approx(200.0)
    assert m["wethink/model/response_length"] == pytest.approx(500.0)


def test_every_reason_member_is_logged_with_zeros_and_shares_sum_to_one():
    m = step_metrics(mixed_step())
    shares = {name: m[f"wethink/reason/{name}"] for name in Reason.__members__}
    assert shares["CONFIG_ERROR"] == 0.0 and shares["MATH_TIMEOUT"] == 0.0
    assert sum(shares.values()) == pytest.approx(1.0)
    assert "wethink/reason/OTHER" not in m


def test_all_values_are_finite_floats_under_the_prefix():
    m = step_metrics(mixed_step())
    assert all(key.startswith("wethink/") for key in m)
    assert all(type(value) is float and math.isfinite(value) for value in m.values())


def test_prefix_is_plain_concatenation():
    m = step_metrics(mixed_step(), prefix="val-wethink/")
    assert m["val-wethink/rule/acc"] == pytest.approx(2 / 3)
    assert not any(key.startswith("wethink/") for key in m)


def test_cache_hit_denominator_is_verdict_lookups_on_the_model_route():
    rows = [
        sample("model", 1.0, judged=1, judge_ok=1),
        sample("model", 1.0, judge_ok=1, cache_hit=1),
        sample("model", 0.0, judge_ok=1, cache_hit=1),
        sample("model", 0.0, reason=int(Reason.NO_ANSWER_BLOCK)),  # never asked the judge: not in the denominator
        sample("rule", 1.0),
    ]
    m = step_metrics(rows)
    assert m["wethink/cache_hit"] == pytest.approx(2 / 3)
    assert m["wethink/judge_ok"] == pytest.approx(3 / 4)
    assert m["wethink/judged"] == 1.0


def test_rule_only_step_omits_model_keys_instead_of_nan():
    m = step_metrics([sample("rule", 1.0), sample("rule", 0.0)])
    for key in ("model/acc", "model/response_length", "judge_ok", "cache_hit"):
        assert f"wethink/{key}" not in m
    assert m["wethink/model/share"] == 0.0
    assert m["wethink/judged"] == 0.0
    assert m["wethink/rule/acc"] == 0.5


def test_model_samples_that_never_reached_the_judge_omit_cache_hit_only():
    m = step_metrics([sample("model", 0.0, reason=int(Reason.JUDGE_NOT_CONFIGURED))])
    assert "wethink/cache_hit" not in m
    assert m["wethink/judge_ok"] == 0.0
    assert "wethink/rule/acc" not in m


def test_empty_and_non_sequence_inputs_give_no_metrics():
    assert step_metrics([]) == {}
    assert step_metrics(None) == {}  # type: ignore[arg-type]
    assert step_metrics(42) == {}  # type: ignore[arg-type]
    assert step_metrics({"acc": 1.0}) == {}  # type: ignore[arg-type]  # a single dict, not a list of them


def test_numpy_scalars_and_bools_are_read_as_numbers():
    rows = [
        sample("rule", np.float32(1.0), route_rule=np.int64(1), route_model=np.bool_(False), length=np.int32(50)),
        sample("model", np.float64(0.0), route_rule=False, route_model=True, judged=True, judge_ok=np.bool_(True)),
    ]
    m = step_metrics(rows)
    assert m["wethink/rule/acc"] == 1.0
    assert m["wethink/model/acc"] == 0.0
    assert m["wethink/rule/response_length"] == 50.0
    assert m["wethink/judge_ok"] == 1.0
    assert m["wethink/judged"] == 1.0
    assert all(type(value) is float for value in m.values())


def test_none_is_missing_for_that_key_only():
    rows = [sample("rule", 1.0, format=None, score=1.0), sample("rule", 0.0, length=None)]  # type: ignore[arg-type]
    m = step_metrics(rows)
    assert m["wethink/format"] == 1.0  # mean over the one sample that has it
    assert m["wethink/rule/acc"] == 0.5
    assert m["wethink/rule/response_length"] == 100.0


def test_samples_without_reward_info_are_skipped_and_counted():
    rows = [sample("rule", 1.0), {"category": "numeric", "response_length": 10}, {k: None for k in RESULT_KEYS}, None]
    m = step_metrics(rows)  # type: ignore[list-item]
    assert m["wethink/missing_reward_info"] == pytest.approx(3 / 4)
    assert m["wethink/rule/acc"] == 1.0
    assert m["wethink/rule/share"] == 1.0
    only_missing = step_metrics([{"category": "x"}])
    assert only_missing == {"wethink/missing_reward_info": 1.0}


@pytest.mark.parametrize(
    "odd",
    [
        float("nan"), float("inf"), "1.0", b"x", [1, 2], np.array([1.0, 2.0]), {"a": 1}, object(), complex(1, 1),
        10**400,
    ],
)
def test_odd_values_never_raise_and_never_leak_nan(odd):
    rows = [sample("rule", 1.0), {**sample("model", 0.0), **{key: odd for key in RESULT_KEYS}, "category": odd}]
    rows[1]["response_length"] = odd
    m = step_metrics(rows)
    assert all(math.isfinite(value) for value in m.values())
    assert m["wethink/rule/acc"] == 1.0
    judge_health(rows, odd, threshold=odd)  # type: ignore[arg-type]


def test_unknown_reason_codes_go_to_other():
    m = step_metrics([sample("rule", 0.0, reason=99), sample("rule", 1.0)])
    assert m["wethink/reason/OTHER"] == 0.5
    assert m["wethink/reason/SCORED"] == 0.5


def test_odd_categories_become_tag_safe_names():
    rows = [sample("rule", 1.0, "multiple choice"), sample("rule", 0.0, float("nan")), sample("rule", 1.0, "a/b")]
    m = step_metrics(rows)  # type: ignore[arg-type]
    assert m["wethink/category/multiple_choice/acc"] == 1.0
    assert m["wethink/category/unknown/acc"] == 0.0
    assert m["wethink/category/a_b/acc"] == 1.0


def test_judge_health_fires_naming_url_share_count_and_main_reason():
    rows = [
        sample("rule", 1.0),
        sample("model", 1.0, judged=1, judge_ok=1),
        sample("model", 0.0, judged=1, reason=int(Reason.JUDGE_DOWN), timeout=1),
        sample("model", 0.0, judged=1, reason=int(Reason.JUDGE_DOWN)),
        sample("model", 0.0, judged=1, reason=int(Reason.JUDGE_UNPARSEABLE)),
    ]
    line = judge_health(rows, "http://judge:8000/v1")
    assert line is not None and "\n" not in line
    assert "http://judge:8000/v1" in line
    assert "0.25" in line
    assert "4 model-route samples" in line
    assert "JUDGE_DOWN" in line and "JUDGE_UNPARSEABLE" not in line


def test_judge_health_names_the_verl_hosted_judge_when_no_url():
    rows = [sample("model", 0.0, reason=int(Reason.JUDGE_NOT_CONFIGURED))]
    line = judge_health(rows, None)
    assert line is not None
    assert "verl-hosted judge" in line and "JUDGE_NOT_CONFIGURED" in line and "0.00" in line


def test_judge_health_is_silent_on_a_healthy_step():
    rows = [
        sample("model", 1.0, judged=1, judge_ok=1),
        sample("model", 0.0, judge_ok=1, cache_hit=1),
        sample("model", 0.0, judged=1, reason=int(Reason.JUDGE_DOWN)),
    ]
    assert judge_health(rows, "http://judge:8000/v1") is None  # 2/3 >= 0.5
    assert judge_health(rows, "http://judge:8000/v1", threshold=0.9) is not None


def test_judge_health_is_silent_without_model_route_samples():
    assert judge_health([sample("rule", 0.0)], "http://judge") is None
    assert judge_health([], None) is None
    assert judge_health(None, None) is None  # type: ignore[arg-type]
