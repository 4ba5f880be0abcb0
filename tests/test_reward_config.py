"""check_reward_kwargs: the single check launchers and --dry-run run on reward_kwargs before verl starts."""

import pytest

from rewards.config import RewardConfigError, check_reward_kwargs


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
    ],
)
def test_a_setting_that_cannot_work_is_named(kwargs, key, monkeypatch):
    monkeypatch.delenv("WETHINK_JUDGE_MODEL", raising=False)
    with pytest.raises(RewardConfigError, match=key):
        check_reward_kwargs(kwargs)


def test_working_settings_pass(monkeypatch):
    monkeypatch.delenv("WETHINK_JUDGE_URL", raising=False)
    assert check_reward_kwargs({}).rule.math_timeout == 5.0
    cfg = check_reward_kwargs({"judge_url": "http://127.0.0.1:8000/v1", "judge_model": "m", "judge_max_tokens": 2048})
    assert cfg.judge.configured and cfg.judge.max_tokens == 2048
