"""Per-route training metrics from the hybrid reward's per-sample dicts (`rewards.hybrid.compute_score`).

verl logs one blended score per step, which hides a dead judge behind a healthy rule route (or the reverse).
`step_metrics` splits a step's samples by route, category and `Reason` code so each shows as its own curve;
`judge_health` turns a collapsing judge into one warning line. Both are pure and never raise: a metrics bug
must not take a training step down, so odd values are read as missing instead of failing.

Denominators (a key is omitted, never NaN, when its denominator is 0):
  rule/acc, rule/response_length    rule-route samples        (route_rule == 1)
  model/acc, model/response_length  model-route samples       (route_model == 1)
  judge_ok                          model-route samples
  cache_hit                         model-route samples that reached the judge's verdict lookup, i.e. with
                                    judged == 1 or cache_hit == 1 (the two are exclusive): the share of
                                    verdicts served without a network request. Samples that never asked the
                                    judge (no <answer> block, hacks, judge not configured) would only dilute it.
  judged                            a COUNT (sum of judged): judge requests sent this step
  category/<c>/acc                  samples of category c (None or not a string -> "unknown")
  missing_reward_info               all samples; every other key: samples with reward info
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rewards.hybrid import RESULT_KEYS
from rewards.outcome import Reason
from rewards.row import CATEGORY

UNKNOWN_CATEGORY = "unknown"


def step_metrics(samples: Sequence[Mapping[str, Any]], prefix: str = "wethink/") -> dict[str, float]:
    """`{prefix + name: value}` for one step's samples; every value a finite float."""
    rows = _rows(samples)
    if not rows:
        return {}
    scored = [row for row in rows if _has_reward_info(row)]
    out: dict[str, float] = {"missing_reward_info": (len(rows) - len(scored)) / len(rows)}
    if scored:
        out.update(_route_metrics(scored))
        out.update(_overall_metrics(scored))
        out.update(_judge_metrics(scored))
        out.update(_reason_shares(scored))
        out.update(_category_acc(scored))
    return {f"{prefix}{name}": value for name, value in out.items() if math.isfinite(value)}


def judge_health(samples: Sequence[Mapping[str, Any]], judge_url: str | None, threshold: float = 0.5) -> str | None:
    """One warning line when fewer than `threshold` of the step's model-route samples got a judge verdict."""
    model = [row for row in _rows(samples) if _has_reward_info(row) and _flag(row, "route_model")]
    share = _mean(_bit(row.get("judge_ok")) for row in model)
    limit = _num(threshold)
    if share is None or limit is None or share >= limit:
        return None
    failed = [row for row in model if _bit(row.get("judge_ok")) == 0.0]
    where = judge_url.strip() if isinstance(judge_url, str) and judge_url.strip() else "verl-hosted judge"
    return (
        f"wethink judge unhealthy ({where}): judge_ok share {share:.2f} over {len(model)} model-route samples "
        f"(threshold {limit:.2f}); main failure: {_main_failure(failed)}"
    )


def _route_metrics(rows: list[Mapping[str, Any]]) -> dict[str, float]:
    """Accuracy, share and response length for each route: the split verl's blended score hides."""
    out: dict[str, float] = {}
    for route in ("rule", "model"):
        flags = [_num(row.get(f"route_{route}")) for row in rows]
        members = [row for row, flag in zip(rows, flags) if flag is not None and flag >= 0.5]
        _put(out, f"{route}/share", _mean(None if flag is None else float(flag >= 0.5) for flag in flags))
        _put(out, f"{route}/acc", _mean(_num(row.get("acc")) for row in members))
        _put(out, f"{route}/response_length", _mean(_num(row.get("response_length")) for row in members))
    return out


def _overall_metrics(rows: list[Mapping[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    _put(out, "inferred_route/share", _mean(_bit(row.get("route_inferred")) for row in rows))
    _put(out, "format", _mean(_num(row.get("format")) for row in rows))
    _put(out, "score", _mean(_num(row.get("score")) for row in rows))
    _put(out, "timeout", _mean(_bit(row.get("timeout")) for row in rows))
    return out


def _judge_metrics(rows: list[Mapping[str, Any]]) -> dict[str, float]:
    """judge_ok over model-route samples, cache_hit over verdict lookups, judged as a request count."""
    out: dict[str, float] = {}
    model = [row for row in rows if _flag(row, "route_model")]
    _put(out, "judge_ok", _mean(_bit(row.get("judge_ok")) for row in model))
    lookups = [row for row in model if _flag(row, "judged") or _flag(row, "cache_hit")]
    _put(out, "cache_hit", _mean(_bit(row.get("cache_hit")) for row in lookups))
    judged = [_bit(row.get("judged")) for row in rows]
    if any(value is not None for value in judged):
        out["judged"] = float(sum(value for value in judged if value is not None))
    return out


def _reason_shares(rows: list[Mapping[str, Any]]) -> dict[str, float]:
    """Share per Reason member, zeros included so every curve starts at step 1; unknown codes -> OTHER."""
    codes = [_reason(row.get("reason")) for row in rows]
    known = [code for code in codes if code is not None]
    if not known:
        return {}
    counts = Counter(known)
    out = {f"reason/{reason.name}": counts.get(reason.name, 0) / len(known) for reason in Reason}
    if counts.get("OTHER"):
        out["reason/OTHER"] = counts["OTHER"] / len(known)
    return out


def _category_acc(rows: list[Mapping[str, Any]]) -> dict[str, float]:
    by_category: dict[str, list[float | None]] = {}
    for row in rows:
        by_category.setdefault(_category(row.get(CATEGORY)), []).append(_num(row.get("acc")))
    out: dict[str, float] = {}
    for category, values in sorted(by_category.items()):
        _put(out, f"category/{category}/acc", _mean(values))
    return out


def _main_failure(failed: list[Mapping[str, Any]]) -> str:
    """The most common non-SCORED reason (ties: the lower code), with its count."""
    counts = Counter(code for code in (_reason(row.get("reason")) for row in failed) if code not in (None, "SCORED"))
    if not counts:
        return "no failure reason recorded"
    name, count = min(counts.items(), key=lambda item: (-item[1], _reason_order(item[0])))
    return f"{name} ({count} of {len(failed)} samples without a verdict)"


def _reason_order(name: str) -> int:
    return Reason[name].value if name in Reason.__members__ else len(Reason)


def _rows(samples: object) -> list[Mapping[str, Any]]:
    """The mappings among `samples`; anything else (None, a non-iterable, a stray string) counts as a row
    without reward info, so it shows in missing_reward_info instead of raising."""
    if samples is None or isinstance(samples, (str, bytes, Mapping)):
        return []
    try:
        items = list(samples)  # type: ignore[call-overload]
    except TypeError:
        return []
    return [item if isinstance(item, Mapping) else {} for item in items]


def _has_reward_info(row: Mapping[str, Any]) -> bool:
    """A sample counts when at least one reward key holds a number (None is missing, per key)."""
    return any(_num(row.get(key)) is not None for key in RESULT_KEYS)


def _num(value: object) -> float | None:
    """A finite float from a number, bool, numpy scalar or 0-d array; None for anything else."""
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        result = float(value)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - lists, arrays, tensors with several items, objects: all "missing"
        return None
    return result if math.isfinite(result) else None


def _bit(value: object) -> float | None:
    """A 0/1 flag as 0.0 / 1.0 (anything >= 0.5 is set), None when missing."""
    number = _num(value)
    return None if number is None else float(number >= 0.5)


def _flag(row: Mapping[str, Any], key: str) -> bool:
    return _bit(row.get(key)) == 1.0


def _reason(value: object) -> str | None:
    """A Reason name for an integer code, "OTHER" for an unknown code, None when missing."""
    number = _num(value)
    if number is None:
        return None
    try:
        return Reason(int(number)).name if number.is_integer() else "OTHER"
    except ValueError:
        return "OTHER"


def _category(value: object) -> str:
    """A tag-safe category name; None, NaN (from pandas) and blanks become "unknown"."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str) or not value.strip():
        return UNKNOWN_CATEGORY
    return "_".join(value.strip().replace("/", " ").split())


def _mean(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None


def _put(out: dict[str, float], name: str, value: float | None) -> None:
    if value is not None:
        out[name] = float(value)
