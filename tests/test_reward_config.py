"""check_reward_kwargs: the single check launchers and --dry-run run on reward_kwargs before verl starts; the\nreward's defaults, written once; and that it reads no environment variable for its judge."""

from dataclasses import dataclass, fields

import pytest

from rewards.config import (
    DEFAULTS,
    JUDGE_MODEL_ENV,
    JUDGE_URL_ENV,
    KNOBS,
    Knob,
    RewardConfig,
    RewardConfigError,
    check_reward_kwargs,
    load_config,
    rule_settings,
)
from rewards.judge import JudgeSettings
from rewards.rule import RuleSettings


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"math_timout": 5}, "math_timout"),  # a typo
        ({"math_timeout": 0}, "math_timeout"),
        ({"judge_down_policy": "ignore"}, "judge_down_policy"),
        ({"judge_url": "localhost:8000/v1", "judge_model": "m"}, "judge_url"),
        ({"judge_url": "http://localhost:8000/v1"}, "judge_model"),
        ({"acc_weight": 0, "format_weight": 0}, "acc_weight"),
        ({"judge_max_tokens": 0}, "judge_max_tokens"),
        # NaN and infinities (issue 26): NaN passed every `value < minimum` check; a NaN weight makes every score
        # NaN, an infinite timeout is no deadline (and int(inf) raised OverflowError, unnamed).
        ({"acc_weight": float("nan")}, "acc_weight"),
        ({"format_weight": "nan"}, "format_weight"),
        ({"numeric_rel_tol": float("inf")}, "numeric_rel_tol"),
        ({"judge_timeout": float("inf")}, "judge_timeout"),
        ({"judge_timeout": "Infinity"}, "judge_timeout"),
        ({"math_timeout": float("nan")}, "math_timeout"),
        ({"judge_breaker_cooldown": float("inf")}, "judge_breaker_cooldown"),
        ({"math_workers": float("inf")}, "math_workers"),
        ({"judge_retries": float("nan")}, "judge_retries"),
        ({"judge_timeout": 1e9}, "judge_timeout"),  # finite, but no deadline within a training step
        ({"judge_max_answer_chars": 10**9}, "judge_max_answer_chars"),
    ],
)
def test_a_setting_that_cannot_work_is_named(kwargs, key, monkeypatch):
    monkeypatch.delenv("JUDGE_MODEL", raising=False)
    with pytest.raises(RewardConfigError, match=key):
        check_reward_kwargs(kwargs)


def test_the_judge_defaults_bound_a_hung_judge_within_a_training_step():
    """judge_timeout x (judge_retries + 1) + backoff per sample before the breaker can open: 91.5 s before."""
    worst = JudgeSettings().endpoint().worst_case_seconds()
    assert worst == 15.0 * 2 + 0.5 and worst <= 60


def test_working_settings_pass(monkeypatch):
    monkeypatch.delenv("JUDGE_URL", raising=False)
    assert check_reward_kwargs({}).rule.math_timeout == 5.0
    cfg = check_reward_kwargs({"judge_url": "http://127.0.0.1:8000/v1", "judge_model": "m", "judge_max_tokens": 2048})
    assert cfg.judge.configured and cfg.judge.max_tokens == 2048


# Each default is written once (a dataclass field); training, --dry-run and synthesis read the same one.


@pytest.fixture
def no_judge_env(monkeypatch):
    for name in ("JUDGE_URL", "JUDGE_MODEL", "WETHINK_JUDGE_URL", "WETHINK_JUDGE_MODEL"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_dataclass_fields(no_judge_env):
    assert load_config({}) == RewardConfig() == check_reward_kwargs({})
    assert DEFAULTS == {k.key: getattr(k.owner(), k.field) for k in KNOBS}
    assert DEFAULTS["acc_weight"] == RewardConfig().acc_weight == 0.7
    assert DEFAULTS["math_timeout"] == RuleSettings().math_timeout == 5.0
    assert DEFAULTS["judge_timeout"] == JudgeSettings().timeout == 15.0


def test_every_settings_field_is_a_knob():
    """A field no knob sets would be a default no config can change (and a second place to look for it)."""
    for owner, nested in ((RewardConfig, {"rule", "judge"}), (RuleSettings, set()), (JudgeSettings, set())):
        knobbed = {k.field for k in KNOBS if k.owner is owner}
        assert {f.name for f in fields(owner)} - nested == knobbed, owner.__name__
    assert len({k.key for k in KNOBS}) == len(KNOBS)


def test_a_knob_whose_field_has_no_default_is_named():
    @dataclass(frozen=True)
    class Settings:
        required: int

    with pytest.raises(TypeError, match="reward kwarg my_knob"):
        _ = Knob("my_knob", Settings, "required", int).default


def test_synthesis_agrees_with_training_on_the_rule_settings(no_judge_env):
    from data_prep.synthesize.agreement import RULES

    assert RULES == load_config({}).rule == check_reward_kwargs({}).rule


def test_a_rule_setting_from_kwargs_is_checked_by_name():
    assert rule_settings({"numeric_rel_tol": 0.01}).numeric_rel_tol == 0.01
    with pytest.raises(RewardConfigError, match="math_workers"):
        rule_settings({"math_workers": 0})


# One environment variable per knob: the reward's fallbacks are the launchers' JUDGE_URL / JUDGE_MODEL.


def test_the_reward_reads_no_environment_for_its_judge(monkeypatch, no_judge_env):
    """The config decides: an exported JUDGE_URL never revives a judge the config switched off (--smoke turns an
    unreachable one off with judge_url=null; a command-line override beats the environment)."""
    for name in ("JUDGE_URL", "WETHINK_JUDGE_URL"):
        monkeypatch.setenv(name, "http://env-judge:8000/v1")
    for name in ("JUDGE_MODEL", "WETHINK_JUDGE_MODEL"):
        monkeypatch.setenv(name, "env-model")
    judge = load_config({"judge_url": None}).judge
    assert (judge.url, judge.model) == (None, None) and not judge.configured
    mine = load_config({"judge_url": "http://mine/v1", "judge_model": "m"}).judge
    assert (mine.url, mine.model) == ("http://mine/v1", "m")  # control: the kwargs are read


def test_the_launchers_map_the_same_variables_onto_the_reward_kwargs():
    """recipes/wethink/launch.py turns JUDGE_URL / JUDGE_MODEL into judge_url / judge_model (the names the reward's
    messages give), and every reward kwarg a launcher variable sets is a knob."""
    from recipes.wethink.launch import KNOBS as LAUNCH_KNOBS

    prefix = "reward.custom_reward_function.reward_kwargs."
    mapped = {var: key.lstrip("+").removeprefix(prefix) for var, key in LAUNCH_KNOBS["grpo"].items()
              if key.lstrip("+").startswith(prefix)}  # fmt: skip
    assert mapped[JUDGE_URL_ENV] == "judge_url" and mapped[JUDGE_MODEL_ENV] == "judge_model"
    assert set(mapped.values()) <= set(DEFAULTS) and len(mapped) >= 6  # judge url/model/key/timeout/retries/...


def test_no_key_is_sent_unless_a_variable_is_named(monkeypatch, no_judge_env):
    """A judge with no key (a local server) is allowed; the key variable has no default name to fall back on."""
    monkeypatch.setenv("WETHINK_JUDGE_API_KEY", "sk-old-default")
    cfg = check_reward_kwargs({"judge_url": "http://127.0.0.1:8000/v1", "judge_model": "m"})
    assert DEFAULTS["judge_api_key_env"] is None and cfg.judge.api_key_env is None
    assert cfg.judge.endpoint().headers() == {}
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-mine")
    named = check_reward_kwargs({"judge_url": "http://127.0.0.1:8000/v1", "judge_model": "m",
                                 "judge_api_key_env": "MY_JUDGE_KEY"})  # fmt: skip
    assert named.judge.endpoint().headers() == {"Authorization": "Bearer sk-mine"}
