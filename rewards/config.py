"""The reward's settings, read from the keyword arguments verl passes (`reward.custom_reward_function.reward_kwargs`).

Every key has a default; `null` in a config means "use the default / fallback". The judge's address falls back,
in order, to: `judge_url`, the `reward_router_address` verl passes when it hosts the judge itself
(`reward.reward_model.enable=True`), then $WETHINK_JUDGE_URL. Its model name: `judge_model`,
$WETHINK_JUDGE_MODEL, then the name verl's own judge server uses (its tokenizer's `name_or_path`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rewards.judge import JudgeSettings
from rewards.rule import RuleSettings

logger = logging.getLogger(__name__)

DOWN_POLICIES = ("zero", "rule")  # judge down: accuracy 0, or fall back to the rule verifiers
DEFAULTS: dict[str, Any] = {
    "acc_weight": 0.7,
    "format_weight": 0.3,
    "numeric_rel_tol": 1e-4,
    "math_timeout": 5.0,
    "math_workers": 2,
    "judge_url": None,
    "judge_model": None,
    "judge_api_key_env": "WETHINK_JUDGE_API_KEY",
    "judge_timeout": 30.0,
    "judge_retries": 2,
    "judge_max_concurrency": 32,
    "judge_cache": None,
    "judge_down_policy": "zero",
    "judge_max_tokens": 32,
    "judge_max_answer_chars": 4000,
    "judge_breaker_failures": 8,
    "judge_breaker_cooldown": 30.0,
    "judge_log_every": 100,
}
VERL_KWARGS = ("reward_router_address", "reward_model_tokenizer")
_warned_unknown: set[str] = set()


class RewardConfigError(ValueError):
    """A reward kwarg with a value that cannot work; the message names the key."""


@dataclass(frozen=True)
class RewardConfig:
    acc_weight: float
    format_weight: float
    rule: RuleSettings
    judge: JudgeSettings
    down_policy: str


def _number(kwargs: Mapping[str, Any], key: str, kind: type, minimum: float) -> Any:
    raw = kwargs.get(key)
    raw = DEFAULTS[key] if raw is None else raw
    whole = not (kind is int and isinstance(raw, float) and not raw.is_integer())
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or isinstance(raw, bool) or not whole or value < minimum:
        raise RewardConfigError(f"reward kwarg {key}={raw!r}: expected a {kind.__name__} >= {minimum}")
    return value


def _text(kwargs: Mapping[str, Any], key: str) -> str | None:
    value = kwargs.get(key)
    value = DEFAULTS[key] if value is None else value
    return None if value in (None, "", "null") else str(value)


def _judge_url(kwargs: Mapping[str, Any]) -> str | None:
    router = kwargs.get("reward_router_address")
    return _text(kwargs, "judge_url") or (f"http://{router}/v1" if router else os.environ.get("WETHINK_JUDGE_URL"))


def _judge_model(kwargs: Mapping[str, Any]) -> str | None:
    tokenizer = kwargs.get("reward_model_tokenizer")
    return (
        _text(kwargs, "judge_model")
        or os.environ.get("WETHINK_JUDGE_MODEL")
        or getattr(tokenizer, "name_or_path", None)
        or None
    )


def load_config(kwargs: Mapping[str, Any], strict: bool = False) -> RewardConfig:
    """RewardConfig from verl's kwargs; raises RewardConfigError naming a bad key. Unknown keys are logged once
    (during training), or raise with `strict` (the launchers' --dry-run, where a typo must stop the run)."""
    unknown = set(kwargs) - set(DEFAULTS) - set(VERL_KWARGS)
    if unknown and strict:
        raise RewardConfigError(f"unknown reward kwargs {sorted(unknown)}; known: {', '.join(DEFAULTS)}")
    if unknown - _warned_unknown:
        _warned_unknown.update(unknown)
        logger.warning("ignoring unknown reward kwargs %s; known: %s", sorted(unknown), ", ".join(DEFAULTS))
    policy = _text(kwargs, "judge_down_policy")
    if policy not in DOWN_POLICIES:
        raise RewardConfigError(f"reward kwarg judge_down_policy={policy!r}: expected one of {DOWN_POLICIES}")
    url = _judge_url(kwargs)
    if url is not None and not url.startswith(("http://", "https://")):
        raise RewardConfigError(f"reward kwarg judge_url={url!r}: expected an http(s):// base URL ending in /v1")
    judge = JudgeSettings(
        url=url,
        model=_judge_model(kwargs),
        api_key_env=_text(kwargs, "judge_api_key_env"),
        timeout=_number(kwargs, "judge_timeout", float, 1e-3),
        retries=_number(kwargs, "judge_retries", int, 0),
        max_concurrency=_number(kwargs, "judge_max_concurrency", int, 1),
        cache_path=_text(kwargs, "judge_cache"),
        max_tokens=_number(kwargs, "judge_max_tokens", int, 1),
        max_answer_chars=_number(kwargs, "judge_max_answer_chars", int, 1),
        breaker_failures=_number(kwargs, "judge_breaker_failures", int, 1),
        breaker_cooldown=_number(kwargs, "judge_breaker_cooldown", float, 0.0),
        log_every=_number(kwargs, "judge_log_every", int, 1),
    )
    rule = RuleSettings(
        numeric_rel_tol=_number(kwargs, "numeric_rel_tol", float, 0.0),
        math_timeout=_number(kwargs, "math_timeout", float, 1e-3),
        math_workers=_number(kwargs, "math_workers", int, 1),
    )
    return RewardConfig(
        acc_weight=_number(kwargs, "acc_weight", float, 0.0),
        format_weight=_number(kwargs, "format_weight", float, 0.0),
        rule=rule,
        judge=judge,
        down_policy=policy,
    )


def check_reward_kwargs(kwargs: Mapping[str, Any]) -> RewardConfig:
    """The one check a launcher or --dry-run runs on `reward_kwargs` before verl starts: every setting that
    cannot work raises RewardConfigError naming its key (during training the reward never raises, so such a
    setting would score every sample 0 with one ERROR line instead)."""
    cfg = load_config(kwargs, strict=True)
    if cfg.judge.url and not cfg.judge.model:
        raise RewardConfigError(
            f"reward kwarg judge_model is not set (nor $WETHINK_JUDGE_MODEL) while judge_url={cfg.judge.url!r}: "
            "every judge request would be refused"
        )
    if cfg.acc_weight == 0 and cfg.format_weight == 0:
        raise RewardConfigError("reward kwargs acc_weight=0 and format_weight=0: every sample would score 0")
    return cfg
