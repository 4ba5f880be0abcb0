"""WeThink's hybrid reward, as verl loads it: `reward.custom_reward_function.path=pkg://rewards.hybrid`.

    score = acc_weight * acc + format_weight * format          (defaults 0.7 / 0.3)

Where a sample's reward is decided, top to bottom:
1. format: exactly one <think> block then one <answer> block (rewards.format);
2. the answer: the last well-formed <answer> block, judged even when the format fails;
3. hacks score 0 on every route: empty, every option listed, the question copied (rewards.hacks);
4. route on extra_info["reward_method"]: "rule" -> rule verifiers refined by extra_info["category"]
   (rewards.rule); "model" -> the LLM judge (rewards.judge). A missing or unknown reward_method is inferred:
   category "descriptive" -> model, anything else -> rule, and `route_inferred` is 1;
5. judge down (or not configured): `judge_down_policy` "zero" gives acc 0, "rule" falls back to the rules.

Every sample returns the same scalar keys (verl stacks them by the first sample's keys); `reason` is a
`rewards.outcome.Reason` code. Per-route accuracy = mean(acc_rule) / mean(route_rule), likewise for model.
Never raises (a bug scores 0 with reason INTERNAL_ERROR and a logged traceback) and every path is bounded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from rewards.config import RewardConfig, RewardConfigError, load_config
from rewards.format import extract_answer, is_well_formed
from rewards.hacks import detect_hack
from rewards.judge import get_judge
from rewards.labels import DESCRIPTIVE, MODEL, RULE, UnknownLabelError, map_category, map_reward_method
from rewards.outcome import Outcome, Reason
from rewards.rule import score_rule

logger = logging.getLogger(__name__)

RESULT_KEYS = (
    "score", "acc", "format", "route_rule", "route_model", "route_inferred", "acc_rule", "acc_model",
    "judged", "judge_ok", "cache_hit", "timeout", "reason",
)  # fmt: skip
_JUDGE_FAILURES = (Reason.JUDGE_DOWN, Reason.JUDGE_NOT_CONFIGURED, Reason.JUDGE_UNPARSEABLE, Reason.JUDGE_REASONING_ONLY)
_logged: set[str] = set()
_internal_errors = [0]


async def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping | None = None, **kwargs: Any
) -> dict[str, float | int]:
    """verl's per-sample entry point. `kwargs`: reward_kwargs from the config plus what verl adds."""
    fmt = 0.0
    route, inferred = RULE, False
    try:
        cfg = load_config(kwargs)
        fmt = 1.0 if is_well_formed(solution_str) else 0.0
        info = extra_info if isinstance(extra_info, Mapping) else {}
        category = _canonical(map_category, info.get("category"))
        route, inferred = _route(info.get("reward_method"), category)
        outcome = await _accuracy(solution_str, _text(ground_truth), info, category, route, cfg)
    except RewardConfigError as err:
        _log_once(str(err), logging.ERROR)
        return _result(Outcome.zero(Reason.CONFIG_ERROR), fmt, route, inferred, 0.0, 0.0)
    except Exception:  # noqa: BLE001 - a reward function must never take the trainer down
        _internal_errors[0] += 1
        count = _internal_errors[0]
        if count <= 3 or count % 1000 == 0:  # a bug that hits every sample must not flood the log
            logger.exception("hybrid reward bug (%d so far); sample scored 0 (data_source=%s)", count, data_source)
        return _result(Outcome.zero(Reason.INTERNAL_ERROR), fmt, route, inferred, 0.0, 0.0)
    return _result(outcome, fmt, route, inferred, cfg.acc_weight, cfg.format_weight)


async def _accuracy(
    response: str, reference: str, info: Mapping, category: str | None, route: str, cfg: RewardConfig
) -> Outcome:
    answer = extract_answer(response)
    question = _text(info.get("question"))
    if answer is None:
        return Outcome.zero(Reason.NO_ANSWER_BLOCK)
    if not reference.strip():
        return Outcome.zero(Reason.NO_REFERENCE)
    hack = detect_hack(answer, question)
    if hack is not None:
        return Outcome.zero(hack)
    if route == RULE:
        return await score_rule(answer, reference, category, question, cfg.rule)
    if cfg.judge.configured:
        judged = await get_judge(cfg.judge).grade(question, reference, answer)
    else:
        _log_once("model-route samples but no judge configured (judge_url / judge_model): their acc is 0")
        judged = Outcome.zero(Reason.JUDGE_NOT_CONFIGURED)
    if judged.reason in _JUDGE_FAILURES and cfg.down_policy == "rule":
        fallback = await score_rule(answer, reference, category, question, cfg.rule)
        return Outcome(fallback.acc, judged.reason, judged.timeout or fallback.timeout, judged.judged)
    return judged


def _route(reward_method: object, category: str | None) -> tuple[str, bool]:
    """(route, inferred): the row's reward_method when it is one we know, else inferred from the category."""
    method = _canonical(map_reward_method, reward_method)
    if method is not None:
        return method, False
    return (MODEL if category == DESCRIPTIVE else RULE), True


def _canonical(mapper, raw: object) -> str | None:
    try:
        return mapper(raw) if raw is not None else None
    except UnknownLabelError:
        return None


def _text(value: object) -> str:
    """Ground truth / question as text: None -> '', numpy values (from parquet) and lists -> their items."""
    if value is None:
        return ""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value)


def _result(outcome: Outcome, fmt: float, route: str, inferred: bool, acc_w: float, fmt_w: float) -> dict:
    rule, model = int(route == RULE), int(route == MODEL)
    return {
        "score": acc_w * outcome.acc + fmt_w * fmt,
        "acc": outcome.acc,
        "format": fmt,
        "route_rule": rule,
        "route_model": model,
        "route_inferred": int(inferred),
        "acc_rule": outcome.acc * rule,
        "acc_model": outcome.acc * model,
        "judged": int(outcome.judged),
        "judge_ok": int(outcome.judge_ok),
        "cache_hit": int(outcome.cache_hit),
        "timeout": int(outcome.timeout),
        "reason": int(outcome.reason),
    }


def _log_once(message: str, level: int = logging.WARNING) -> None:
    if message not in _logged:
        _logged.add(message)
        logger.log(level, message)
