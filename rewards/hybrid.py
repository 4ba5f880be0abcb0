"""WeThink's hybrid reward, as verl loads it: `reward.custom_reward_function.path=pkg://rewards.hybrid`.

    score = acc_weight * acc + format_weight * format          (defaults 0.7 / 0.3)

Where a sample's reward is decided, top to bottom:
1. format: exactly one <think> block then one <answer> block (rewards.format);
2. the answer: the last well-formed <answer> block, judged even when the format fails;
3. hacks score 0 on every route: empty, every option listed, the question copied (rewards.hacks);
4. route on extra_info["reward_method"] (the row contract: rewards.row): "rule" -> rule verifiers refined by
   extra_info["category"] (rewards.rule); "model" -> the LLM judge (rewards.judge). A missing or unknown
   reward_method is inferred (`rewards.row.reward_route`): category "descriptive" -> model, anything else ->
   rule, and `route_inferred` is 1;
5. judge down (or not configured): `judge_down_policy` "zero" gives acc 0, "rule" falls back to the rules.

A category the labels do not know is flagged in `route_inferred` too (its verifier is inferred from the
reference), and said once in the log; so is a row without a usable ground truth (reason NO_REFERENCE).

Every sample returns the same scalar keys (verl stacks them by the first sample's keys); `reason` is a
`rewards.outcome.Reason` code. Per-route accuracy = mean(acc_rule) / mean(route_rule), likewise for model.
Never raises (a bug scores 0 with reason INTERNAL_ERROR and a logged traceback) and every path is bounded.

Cost on the event loop: at most LOOP_BUDGET_SECONDS of CPU per call, whatever the policy writes, by construction
(checked by tests/test_reward_fuzz.py, figures in benchmarks/bench_reward_hostile.py): every pattern runs in time
linear in its input, whitespace runs are squeezed to one character, the texts are bounded before any pattern
reads them (a rule-route answer to MAX_RULE_ANSWER_CHARS, else ANSWER_TOO_LONG; a judge-route answer to
`judge_max_answer_chars`; question and ground truth to MAX_ROW_TEXT_CHARS), the copied-question check compares
words beyond a few hundred characters, and math-verify runs in worker processes (`rewards.math_equiv`).
"""

from __future__ import annotations

import logging
import reprlib
from collections.abc import Mapping
from typing import Any

from rewards.config import RewardConfig, RewardConfigError, load_config
from rewards.format import extract_answer, is_well_formed
from rewards.hacks import detect_hack
from rewards.judge import get_judge
from rewards.labels import MODEL, RULE
from rewards.outcome import Outcome, Reason
from rewards.row import CATEGORY, QUESTION, REWARD_METHOD, canonical_category, reward_route
from rewards.rule import is_chart_row, score_rule
from rewards.text import squeeze_whitespace

logger = logging.getLogger(__name__)

RESULT_KEYS = (
    "score", "acc", "format", "route_rule", "route_model", "route_inferred", "acc_rule", "acc_model",
    "judged", "judge_ok", "cache_hit", "timeout", "reason",
)  # fmt: skip
_JUDGE_FAILURES = (Reason.JUDGE_DOWN, Reason.JUDGE_NOT_CONFIGURED, Reason.JUDGE_UNPARSEABLE, Reason.JUDGE_REASONING_ONLY)
LOOP_BUDGET_SECONDS = 0.05  # CPU per call on the event loop (module docstring)
MAX_RULE_ANSWER_CHARS = 4096  # ~1000 tokens inside <answer>: reasoning, not an answer to a rule question
MAX_ROW_TEXT_CHARS = 16384  # question / ground truth: more than any prompt of the recipe holds
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
        category = canonical_category(info.get(CATEGORY))
        route, inferred = reward_route(category, info.get(REWARD_METHOD))
        if category is None and info.get(CATEGORY) is not None:
            inferred = True
            _log_once(f"category {_shown(info.get(CATEGORY))} is not one the reward knows (rewards/labels.py): "
                      "its verifier is chosen from the reference; such samples are counted in route_inferred. "
                      "Said once, for the first such category", key="unknown category")  # fmt: skip
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
    if answer is None:
        return Outcome.zero(Reason.NO_ANSWER_BLOCK)
    if not reference.strip() or len(reference) > MAX_ROW_TEXT_CHARS:
        _log_once(f"a row's ground truth is {'empty' if not reference.strip() else f'{len(reference)} characters'}: "
                  "such samples score 0 (reason NO_REFERENCE). Said once", key="no reference")  # fmt: skip
        return Outcome.zero(Reason.NO_REFERENCE)
    question = _text(info.get(QUESTION))
    if len(question) > MAX_ROW_TEXT_CHARS:
        _log_once(f"questions over {MAX_ROW_TEXT_CHARS} characters are read to there. Said once", key="long question")
        question = question[:MAX_ROW_TEXT_CHARS]
    # The hack checks read what the verifier will read: the whole answer on the rule route, the judge's cut else.
    shown = answer if route == RULE else answer[: cfg.judge.max_answer_chars]
    if route == RULE and len(answer) > MAX_RULE_ANSWER_CHARS:
        return Outcome.zero(Reason.ANSWER_TOO_LONG)
    said, asked, expected = squeeze_whitespace(shown), squeeze_whitespace(question), squeeze_whitespace(reference)
    hack = detect_hack(said, asked)
    if hack is not None:
        return Outcome.zero(hack)
    if route == RULE:
        return await score_rule(said, expected, category, asked, cfg.rule, chart=is_chart_row(info))
    if cfg.judge.configured:
        judged = await get_judge(cfg.judge).grade(question, reference, answer)
    else:
        _log_once("model-route samples but no judge configured (judge_url / judge_model): their acc is 0")
        judged = Outcome.zero(Reason.JUDGE_NOT_CONFIGURED)
    if judged.reason in _JUDGE_FAILURES and cfg.down_policy == "rule":
        if len(answer) > MAX_RULE_ANSWER_CHARS:
            fallback = Outcome.zero(Reason.ANSWER_TOO_LONG)
        else:
            fallback = await score_rule(
                squeeze_whitespace(answer), expected, category, asked, cfg.rule, chart=is_chart_row(info)
            )
        return Outcome(fallback.acc, judged.reason, judged.timeout or fallback.timeout, judged.judged)
    return judged


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


def _shown(value: object) -> str:
    """A row's value for a log line: its repr, bounded in length and depth (a label is data: it may be anything)."""
    return reprlib.repr(value)


def _log_once(message: str, level: int = logging.WARNING, key: str | None = None) -> None:
    """Log `message` the first time its `key` (the message itself by default) is seen in this process."""
    key = message if key is None else key
    if key not in _logged:
        _logged.add(key)
        logger.log(level, message)
