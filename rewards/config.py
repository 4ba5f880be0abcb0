"""The reward's settings, read from the keyword arguments verl passes (`reward.custom_reward_function.reward_kwargs`).

Each default is written once, as a field default of a frozen settings dataclass: `RewardConfig` (weights, down
policy), `rewards.rule.RuleSettings` (the rule verifiers) and `rewards.judge.JudgeSettings` (the judge). `KNOBS`
maps each reward kwarg to the field it sets and says how its value is checked; `DEFAULTS` is derived from the
fields. Training (`load_config`), the launchers' `--dry-run` (`check_reward_kwargs`) and QA synthesis
(`rule_settings`) all build their settings here, so they cannot drift apart.

`null` in a config means "use the default". The judge's address: `judge_url`, else the `reward_router_address`
verl passes when it hosts the judge itself (`reward.reward_model.enable`), else none (no judge). Its model name:
`judge_model`, else the name verl's own judge server uses (its tokenizer's `name_or_path`). The reward reads no
environment variable for them: the config decides (the launchers turn $JUDGE_URL / $JUDGE_MODEL into these kwargs,
so a command-line `judge_url=null` still wins, and on a Ray cluster every worker sees the same value). The API key is
sent only when `judge_api_key_env` names a variable that is set: a judge with no key (a local server) is allowed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from rewards.judge import JudgeSettings
from rewards.rule import RuleSettings

logger = logging.getLogger(__name__)

JUDGE_URL_ENV = "JUDGE_URL"  # the launchers' variables for judge_url / judge_model (the reward itself reads none)
JUDGE_MODEL_ENV = "JUDGE_MODEL"
DOWN_POLICIES = ("zero", "rule")  # judge down: accuracy 0, or fall back to the rule verifiers
VERL_KWARGS = ("reward_router_address", "reward_model_tokenizer")
_warned_unknown: set[str] = set()


class RewardConfigError(ValueError):
    """A reward kwarg with a value that cannot work; the message names the key."""


@dataclass(frozen=True)
class RewardConfig:
    """Everything the hybrid reward reads; the field defaults are the reward's defaults."""

    acc_weight: float = 0.7
    format_weight: float = 0.3
    rule: RuleSettings = field(default_factory=RuleSettings)
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    down_policy: str = "zero"


@dataclass(frozen=True)
class Knob:
    """One reward kwarg: the settings field it sets and how its value is checked. `kind` float/int: a finite
    number in [`minimum`, `maximum`] (NaN and infinities never: a NaN weight makes every score NaN, an infinite
    timeout is no deadline); str: text, None when null or empty, one of `choices` when given."""

    key: str
    owner: type
    field: str
    kind: type
    minimum: float = 0.0
    choices: tuple[str, ...] = ()
    maximum: float = math.inf

    @property
    def default(self) -> Any:
        spec = next(f for f in fields(self.owner) if f.name == self.field)
        if spec.default is MISSING:
            raise TypeError(f"{self.owner.__name__}.{self.field} (reward kwarg {self.key}) has no default")
        return spec.default


MAX_SECONDS = 3600.0  # a deadline of an hour per check or request is none within a training step
MAX_JUDGE_ANSWER_CHARS = 65536  # the judge reads at most this much of an answer (the reward's cost grows with it)

KNOBS = (
    Knob("acc_weight", RewardConfig, "acc_weight", float),
    Knob("format_weight", RewardConfig, "format_weight", float),
    Knob("numeric_rel_tol", RuleSettings, "numeric_rel_tol", float),
    Knob("math_timeout", RuleSettings, "math_timeout", float, 1e-3, maximum=MAX_SECONDS),
    Knob("math_workers", RuleSettings, "math_workers", int, 1),
    Knob("judge_url", JudgeSettings, "url", str),
    Knob("judge_model", JudgeSettings, "model", str),
    Knob("judge_api_key_env", JudgeSettings, "api_key_env", str),
    Knob("judge_timeout", JudgeSettings, "timeout", float, 1e-3, maximum=MAX_SECONDS),
    Knob("judge_retries", JudgeSettings, "retries", int, 0),
    Knob("judge_max_concurrency", JudgeSettings, "max_concurrency", int, 1),
    Knob("judge_cache", JudgeSettings, "cache_path", str),
    Knob("judge_down_policy", RewardConfig, "down_policy", str, choices=DOWN_POLICIES),
    Knob("judge_max_tokens", JudgeSettings, "max_tokens", int, 1),
    Knob("judge_max_answer_chars", JudgeSettings, "max_answer_chars", int, 1, maximum=MAX_JUDGE_ANSWER_CHARS),
    Knob("judge_breaker_failures", JudgeSettings, "breaker_failures", int, 1),
    Knob("judge_breaker_cooldown", JudgeSettings, "breaker_cooldown", float, 0.0),
    Knob("judge_log_every", JudgeSettings, "log_every", int, 1),
)
DEFAULTS: dict[str, Any] = {knob.key: knob.default for knob in KNOBS}  # derived: the dataclass fields decide


def _value(kwargs: Mapping[str, Any], knob: Knob) -> Any:
    """The knob's checked value from `kwargs`, its default when absent or null; RewardConfigError names the key."""
    raw = kwargs.get(knob.key)
    raw = DEFAULTS[knob.key] if raw is None else raw
    if knob.kind is str:
        value = None if raw in (None, "", "null") else str(raw)
        if knob.choices and value not in knob.choices:
            raise RewardConfigError(f"reward kwarg {knob.key}={value!r}: expected one of {knob.choices}")
        return value
    whole = not (knob.kind is int and isinstance(raw, float) and math.isfinite(raw) and not raw.is_integer())
    try:
        value = knob.kind(raw)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        value = None
    if value is None or isinstance(raw, bool) or not whole or not math.isfinite(value) or not (
        knob.minimum <= value <= knob.maximum
    ):
        bounds = f">= {knob.minimum:g}" + (f" and <= {knob.maximum:g}" if math.isfinite(knob.maximum) else "")
        raise RewardConfigError(f"reward kwarg {knob.key}={raw!r}: expected a finite {knob.kind.__name__} {bounds}")
    return value


def _fields_of(owner: type, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {knob.field: _value(kwargs, knob) for knob in KNOBS if knob.owner is owner}


def rule_settings(kwargs: Mapping[str, Any] | None = None) -> RuleSettings:
    """The rule verifiers' settings from reward kwargs (defaults when None): what training and synthesis use."""
    return RuleSettings(**_fields_of(RuleSettings, kwargs or {}))


def judge_settings(kwargs: Mapping[str, Any]) -> JudgeSettings:
    """The judge's settings, with the address and model name of a verl-hosted judge filled in (module docstring)."""
    values = _fields_of(JudgeSettings, kwargs)
    router = kwargs.get("reward_router_address")
    url = values["url"] or (f"http://{router}/v1" if router else None)
    if url is not None and not url.startswith(("http://", "https://")):
        raise RewardConfigError(f"reward kwarg judge_url={url!r}: expected an http(s):// base URL ending in /v1")
    tokenizer = kwargs.get("reward_model_tokenizer")
    model = values["model"] or getattr(tokenizer, "name_or_path", None) or None
    return JudgeSettings(**{**values, "url": url, "model": model})


def load_config(kwargs: Mapping[str, Any], strict: bool = False) -> RewardConfig:
    """RewardConfig from verl's kwargs; raises RewardConfigError naming a bad key. Unknown keys are logged once
    (during training), or raise with `strict` (the launchers' --dry-run, where a typo must stop the run)."""
    unknown = set(kwargs) - set(DEFAULTS) - set(VERL_KWARGS)
    if unknown and strict:
        raise RewardConfigError(f"unknown reward kwargs {sorted(unknown)}; known: {', '.join(DEFAULTS)}")
    if unknown - _warned_unknown:
        _warned_unknown.update(unknown)
        logger.warning("ignoring unknown reward kwargs %s; known: %s", sorted(unknown), ", ".join(DEFAULTS))
    top = _fields_of(RewardConfig, kwargs)
    return RewardConfig(**top, rule=rule_settings(kwargs), judge=judge_settings(kwargs))


def check_reward_kwargs(kwargs: Mapping[str, Any]) -> RewardConfig:
    """The one check a launcher or --dry-run runs on `reward_kwargs` before verl starts: every setting that
    cannot work raises RewardConfigError naming its key (during training the reward never raises, so such a
    setting would score every sample 0 with one ERROR line instead)."""
    cfg = load_config(kwargs, strict=True)
    if cfg.judge.url and not cfg.judge.model:
        raise RewardConfigError(
            f"reward kwarg judge_model is not set (launchers: ${JUDGE_MODEL_ENV}) while judge_url={cfg.judge.url!r}: "
            "every judge request would be refused"
        )
    if cfg.acc_weight == 0 and cfg.format_weight == 0:
        raise RewardConfigError("reward kwargs acc_weight=0 and format_weight=0: every sample would score 0")
    return cfg
