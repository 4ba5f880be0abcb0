"""The DAPO variant (`wethink_dapo.yaml`) against DAPO itself: Yu et al. 2025 (arXiv 2503.14476) and verl-recipe's
reference run (`dapo/run_dapo_qwen2.5_32b.sh`).

One test per setting the variant takes from DAPO, on the config the launcher composes; where the setting is behaviour,
through verl 0.9.1's own code (its PPO policy loss; its DAPO reward manager running the recipe's reward). Each test also
runs a config that breaks the setting (e.g. DAPO's literal clip-higher 0.28, which is below the paper run's 0.3) and
shows that the same check fails there.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from verl import DataProto

from rewards.hybrid import RESULT_KEYS
from tests import repo

# DAPO's values, where its paper and verl-recipe's reference run state them.
DAPO_EPS_LOW, DAPO_EPS_HIGH = 0.2, 0.28  # Sec. 3.1; run: clip_ratio_low / clip_ratio_high
DAPO_CLIP_C = 10.0  # run: clip_ratio_c=10.0 (Sec. 3's objective has no dual clip)
DAPO_BUFFER, DAPO_MAX_LENGTH = 4096, 20480  # Sec. 4.1: 16384 expected + a 4096-token soft punish cache
DAPO_PENALTY, DAPO_REWARD_RANGE = 1.0, 2.0  # run: overlong_penalty_factor=1.0; Sec. 2.4: reward +1 / -1
ACTOR = "actor_rollout_ref.actor"
OVERLONG = "reward.reward_kwargs.overlong_buffer_cfg"
PROMPT_LENGTH = 4


def compose(name: str = "wethink_dapo", overrides: tuple[str, ...] = ()):
    return repo.compose(name, *overrides)


@pytest.fixture(scope="module")
def variant():
    return compose()


@pytest.fixture(scope="module")
def base():
    return compose("wethink_7b")


# ---------------------------------------------------------------- clip-higher, dual clip, token-level loss


def clip_higher_problems(cfg, base) -> list[str]:
    """What is wrong with the variant's clip-higher against the paper run it modifies; [] when nothing."""
    high, low = OmegaConf.select(cfg, f"{ACTOR}.clip_ratio_high"), OmegaConf.select(cfg, f"{ACTOR}.clip_ratio_low")
    base_high = OmegaConf.select(base, f"{ACTOR}.clip_ratio_high")
    problems = []
    if not high > base_high:
        problems.append(f"clip_ratio_high {high} is not above the paper run's {base_high}")
    if high - base_high != pytest.approx(DAPO_EPS_HIGH - DAPO_EPS_LOW):
        problems.append(f"the raise {high - base_high:.3f} is not DAPO's {DAPO_EPS_HIGH - DAPO_EPS_LOW:.2f}")
    if low != DAPO_EPS_LOW:
        problems.append(f"clip_ratio_low {low} is not DAPO's {DAPO_EPS_LOW}")
    return problems


def policy_loss(cfg, ratio: float, advantage: float) -> tuple[float, dict]:
    """verl's vanilla PPO loss for one token, with the composed actor config (the one the actor builds)."""
    from verl.trainer.ppo.core_algos import compute_policy_loss_vanilla
    from verl.utils.config import omega_conf_to_dataclass

    actor = omega_conf_to_dataclass(OmegaConf.select(cfg, ACTOR))
    old, new = torch.zeros(1, 1), torch.log(torch.tensor([[ratio]]))
    loss, metrics = compute_policy_loss_vanilla(
        old, new, torch.tensor([[advantage]]), torch.ones(1, 1), actor.loss_agg_mode, actor
    )
    return loss.item(), metrics


def test_clip_higher_is_above_the_paper_runs_by_dapos_raise(variant, base):
    assert clip_higher_problems(variant, base) == []
    # In verl's loss: a token whose probability rose 35% on a positive advantage keeps its gradient here, where the
    # paper run's 0.3 clips it.
    assert policy_loss(variant, 1.35, 1.0)[1]["actor/pg_clipfrac"] == 0.0
    assert policy_loss(base, 1.35, 1.0)[1]["actor/pg_clipfrac"] == 1.0
    # Control: DAPO's literal 0.28 lowers the paper run's clip-higher, and the check says so.
    lowered = compose(overrides=(f"{ACTOR}.clip_ratio_high=0.28",))
    assert any("not above the paper run's 0.3" in p for p in clip_higher_problems(lowered, base))
    assert policy_loss(lowered, 1.35, 1.0)[1]["actor/pg_clipfrac"] == 1.0


def test_dual_clip_is_off_as_in_dapos_run(variant, base):
    """A negative advantage on a ratio of 5: the dual clip (verl's clip_ratio_c) would cap the loss at c."""
    assert OmegaConf.select(variant, f"{ACTOR}.clip_ratio_c") == DAPO_CLIP_C
    assert policy_loss(variant, 5.0, -1.0)[0] == pytest.approx(5.0)  # unclipped, as in DAPO's objective
    # Control: the paper run's 3.0 caps it.
    assert policy_loss(base, 5.0, -1.0)[0] == pytest.approx(3.0)


def test_the_loss_is_token_level_as_in_dapo(variant):
    """token-mean: every token of the batch weighs the same, so a long answer is not diluted (Sec. 3.3)."""
    from verl.trainer.ppo.core_algos import agg_loss

    def long_answer_share(mode: str) -> float:
        losses = torch.zeros(2, 10)
        losses[0, :2] = 1.0  # a short answer: 2 tokens of loss 1
        losses[1, :8] = 2.0  # a long answer: 8 tokens of loss 2
        mask = (losses > 0).float()
        total = agg_loss(losses, mask, mode).item()
        return total - agg_loss(losses * torch.tensor([[1.0], [0.0]]), mask, mode).item()

    mode = OmegaConf.select(variant, f"{ACTOR}.loss_agg_mode")
    assert mode == "token-mean"
    assert long_answer_share(mode) == pytest.approx(16 / 10)  # 8 of the batch's 10 tokens, each 2
    # Control: a per-sequence mean gives the long answer half the weight whatever its length.
    assert long_answer_share("seq-mean-token-mean") == pytest.approx(2 / 2)


# ---------------------------------------------------------------- the DAPO reward manager: filtering and shaping


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    from recipes.cpu.tiny_model import build_tiny_qwen25vl

    return build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny_tokenizer"))


@pytest.fixture(scope="module")
def tokenizer(tokenizer_dir):
    from verl.utils import hf_tokenizer

    return hf_tokenizer(tokenizer_dir)


def reward_manager(tokenizer_dir, tokenizer, overrides: tuple[str, ...] = ()):
    """verl's reward manager for the composed variant, as every reward worker builds it (no judge: rule rows only)."""
    from verl.trainer.ppo.reward import load_reward_manager

    cfg = compose(overrides=(f"actor_rollout_ref.model.path={tokenizer_dir}",
                             "reward.custom_reward_function.reward_kwargs.judge_url=null", *overrides))  # fmt: skip
    manager = load_reward_manager(cfg, tokenizer)
    assert type(manager).__name__ == "DAPORewardManager"
    return cfg, manager


def response_ids(tokenizer, length: int, answer: str = "42", think: bool = True) -> list[int]:
    """A response of exactly `length` tokens (EOS included): `<think>` filler `</think><answer>..</answer>`."""
    head = tokenizer.encode("<think>" if think else "", add_special_tokens=False)
    tail = tokenizer.encode(f"{'</think>' if think else ''}<answer>{answer}</answer>", add_special_tokens=False)
    [filler] = tokenizer.encode(" x", add_special_tokens=False)
    pad = length - len(head) - len(tail) - 1
    assert pad >= 0, length
    return head + [filler] * pad + tail + [tokenizer.eos_token_id]


async def score_group(manager, tokenizer, responses: list[list[int]], width: int) -> list[dict]:
    """verl's DAPO manager on each response (a right-padded rollout batch), as the reward loop calls it (the manager
    runs on the event loop it was built on: build it in the same async test)."""
    rows = len(responses)
    ids = torch.full((rows, width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((rows, width), dtype=torch.long)
    for i, response in enumerate(responses):
        ids[i, : len(response)] = torch.tensor(response)
        mask[i, : len(response)] = 1
    prompts = torch.full((rows, PROMPT_LENGTH), tokenizer.eos_token_id, dtype=torch.long)
    batch = DataProto.from_dict(
        tensors={"prompts": prompts, "responses": ids, "input_ids": torch.cat([prompts, ids], dim=1),
                 "attention_mask": torch.cat([torch.ones_like(prompts), mask], dim=1)},
        non_tensors={
            "data_source": np.array(["wethink"] * rows, dtype=object),
            "reward_model": np.array([{"ground_truth": "42", "style": "rule"}] * rows, dtype=object),
            "extra_info": np.array([{"reward_method": "rule", "category": "numeric", "question": "How many?"}] * rows,
                                   dtype=object),
        },
    )  # fmt: skip

    return await asyncio.gather(*(manager.run_single(batch[i : i + 1]) for i in range(rows)))


def filtered(outputs: list[dict], metric: str) -> bool:
    """Whether verl 0.9.1's replay buffer drops the group (`ReplayBuffer._dapo_filtered_keys`): `reward` reads the
    reward verl trains on (rm_scores), any other name the reward's extra info; dropped when all values are equal."""
    values = [o["reward_score"] if metric == "reward" else o["reward_extra_info"][metric] for o in outputs]
    return len(values) > 1 and float(np.std(values)) == 0.0


async def test_groups_are_filtered_on_the_task_reward_before_the_overlong_term(variant, tokenizer_dir, tokenizer):
    """DAPO drops groups whose accuracy is uniform: its accuracy is its whole task reward (+1/-1), the overlong term
    aside. The variant's metric is that here: the hybrid score, before verl's dapo manager adds the overlong term."""
    metric = OmegaConf.select(variant, "algorithm.filter_groups.metric")
    assert metric in RESULT_KEYS  # a key the reward returns for every sample (verl raises on a group without it)
    cfg, manager = reward_manager(tokenizer_dir, tokenizer)
    limit = cfg.data.max_response_length
    # All right and well formed, at lengths that reach into the overlong buffer: the same task reward for all.
    lengths = (60, 1700, 1800, 1900, limit)
    same_task_reward = await score_group(manager, tokenizer, [response_ids(tokenizer, n) for n in lengths], limit)
    assert len({o["reward_score"] for o in same_task_reward}) > 1  # the overlong term makes the rewards differ
    assert filtered(same_task_reward, metric)  # dropped, as DAPO's accuracy filter drops it
    # All right, format varying (two without <think>): the score differs, so the group carries advantage.
    format_varies = await score_group(manager, tokenizer,
                                [response_ids(tokenizer, 60, think=i >= 2) for i in range(5)], limit)  # fmt: skip
    assert not filtered(format_varies, metric)
    # Controls: `reward` (rm_scores) keeps the length-only group; `acc` drops the group that still teaches format.
    assert not filtered(same_task_reward, "reward")
    assert filtered(format_varies, "acc")


async def overlong_penalty(manager, tokenizer, length: int, limit: int) -> float:
    """What verl's dapo manager takes off a right, well-formed answer of `length` tokens."""
    [output] = await score_group(manager, tokenizer, [response_ids(tokenizer, length)], limit)
    return float(output["reward_extra_info"]["score"] - output["reward_score"])


async def penalty_share_of_range(tokenizer_dir, tokenizer, overrides: tuple[str, ...] = ()) -> float:
    """The penalty at the response limit as a share of the reward's range (best answer minus worst), measured."""
    cfg, manager = reward_manager(tokenizer_dir, tokenizer, overrides)
    limit = cfg.data.max_response_length
    best, worst = await score_group(manager, tokenizer, [response_ids(tokenizer, 60),
                                                   response_ids(tokenizer, 60, answer="7", think=False)], limit)
    reward_range = best["reward_extra_info"]["score"] - worst["reward_extra_info"]["score"]
    return await overlong_penalty(manager, tokenizer, limit, limit) / float(reward_range)


async def test_the_overlong_penalty_takes_dapos_share_of_the_reward_range(tokenizer_dir, tokenizer):
    assert await penalty_share_of_range(tokenizer_dir, tokenizer) == pytest.approx(DAPO_PENALTY / DAPO_REWARD_RANGE)
    # Control: DAPO's factor 1.0 on our 0..1 reward takes the whole range (a right answer at the limit scores 0).
    doubled = await penalty_share_of_range(tokenizer_dir, tokenizer, (f"{OVERLONG}.penalty_factor=1.0",))
    assert doubled != pytest.approx(DAPO_PENALTY / DAPO_REWARD_RANGE)


async def buffer_problems(tokenizer_dir, tokenizer, overrides: tuple[str, ...] = ()) -> list[str]:
    """Where the penalty starts, measured through verl's manager, against DAPO's share of the limit (a fifth)."""
    cfg, manager = reward_manager(tokenizer_dir, tokenizer, overrides)
    limit = cfg.data.max_response_length
    buffer = OmegaConf.select(cfg, f"{OVERLONG}.len")
    problems = []
    if abs(buffer - limit * DAPO_BUFFER / DAPO_MAX_LENGTH) > 0.5:
        problems.append(f"len {buffer} is not DAPO's {DAPO_BUFFER}/{DAPO_MAX_LENGTH} of {limit}")
    start = round(limit * (1 - DAPO_BUFFER / DAPO_MAX_LENGTH))  # the last length DAPO's share leaves unpunished
    at_start, after = [await overlong_penalty(manager, tokenizer, n, limit) for n in (start, start + 1)]
    if at_start != 0 or not after > 0:
        problems.append(f"the penalty does not start after {start} tokens")
    return problems


async def test_the_overlong_buffer_is_dapos_share_of_the_response_limit(tokenizer_dir, tokenizer):
    assert await buffer_problems(tokenizer_dir, tokenizer) == []
    # Control: the earlier 512 ("scaled" from DAPO's 4096) is a quarter of the limit, not DAPO's fifth.
    assert len(await buffer_problems(tokenizer_dir, tokenizer, (f"{OVERLONG}.len=512",))) == 2


def test_the_kl_loss_is_kept_on_purpose_and_said(variant, base):
    """DAPO removes the KL term (Sec. 2.3); the variant keeps the paper run's, and its yaml says why."""
    for key in ("use_kl_loss", "kl_loss_type", "kl_loss_coef"):
        assert OmegaConf.select(variant, f"{ACTOR}.{key}") == OmegaConf.select(base, f"{ACTOR}.{key}")
    text = (repo.CONFIG_DIR / "wethink_dapo.yaml").read_text()
    assert "DAPO removes the KL term (Sec. 2.3" in text and "use_kl_loss=false" in text
