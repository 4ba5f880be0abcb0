"""One real GRPO step on CPU, assembled from verl 0.9.1's own parts and this recipe's extensions.

sample parquet -> WeThinkDataset via verl's `create_rl_dataset` -> the rollout's prompt path (the dataset's
`process_multi_modal_info` + verl's Continuous Token builder) -> HF `generate` with n=5 on a tiny Qwen2.5-VL
-> the hybrid reward through verl's `load_reward_manager` / `run_single` -> verl's GRPO advantage -> verl's
policy loss + low_var_kl loss -> backward -> optimizer step.

Only the model size differs from a real run (and vLLM is replaced by HF generate, since vLLM needs a GPU).
A random tiny model almost never writes `<think>..</think><answer>..</answer>`, so two of the five samples
per prompt are decoded under a logits processor that forces the reference answer: constrained decoding, the
tokens still come out of `generate`, and their log-probs still come from the model.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import torch

from recipes.cpu.tiny_model import TINY_MAX_PIXELS, TINY_MIN_PIXELS
from tests.repo import SAMPLE, compose

N_ROLLOUTS = 5
FORCED_PER_GROUP = 2
MAX_NEW_TOKENS = 40


class ForceSomeRows:
    """Logits processor: rows in `forced` emit `target` ids then EOS; other rows sample freely."""

    def __init__(self, prompt_len: int, forced: set[int], target: list[int], eos_id: int):
        self.prompt_len, self.forced, self.target, self.eos_id = prompt_len, forced, target, eos_id

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_len
        token = self.target[step] if step < len(self.target) else self.eos_id
        for row in self.forced:
            scores[row] = torch.finfo(scores.dtype).min
            scores[row, token] = 0.0
        return scores


def compose_recipe(overrides: list[str]):
    return compose("wethink_7b", *overrides)


@pytest.fixture(scope="module")
def step_inputs(tmp_path_factory, tiny_vl_dir):
    from data_prep.wethink import prepare

    out = tmp_path_factory.mktemp("grpo_data")
    prepare(
        SAMPLE / "wethink_sample.jsonl",
        SAMPLE / "images",
        out,
        val_size=8,
        seed=0,
        progress=False,
    )
    cfg = compose_recipe(
        [
            f"data.train_files={out / 'train.parquet'}",
            f"data.val_files={out / 'val.parquet'}",
            f"data.min_pixels={TINY_MIN_PIXELS}",
            f"data.max_pixels={TINY_MAX_PIXELS}",
            f"actor_rollout_ref.model.path={tiny_vl_dir}",
            "reward.custom_reward_function.reward_kwargs.judge_url=null",
        ]
    )
    return cfg


def _rollout_prompt(row, cfg, dataset_cls, tokenizer, processor, model_type):
    """What verl's SingleTurnAgentLoop does before it calls the inference server."""
    from verl.utils.tokenizer.continuous_token_wiring import create_continuous_token_builder

    messages = list(row["raw_prompt"])
    patch = processor.image_processor.patch_size
    images, videos, audios = asyncio.run(
        dataset_cls.process_multi_modal_info(messages, image_patch_size=patch, config=cfg.data)
    )
    builder = create_continuous_token_builder(
        tokenizer, hf_model_type=model_type, chat_template_kwargs={}, mm_processor_kwargs={}, processor=processor
    )
    mm_inputs: dict = {}
    prompt_ids = builder.build_initial_tokens(messages, images=images, videos=videos, mm_inputs_out=mm_inputs)
    return prompt_ids, mm_inputs


def _score(manager, tokenizer, row, prompt_ids, response_ids, response_mask):
    """Score one response through the reward manager exactly as verl's reward loop hands it over."""
    from verl import DataProto

    prompt = torch.tensor([prompt_ids])
    attention_mask = torch.cat([torch.ones_like(prompt), response_mask.unsqueeze(0)], dim=1)
    data = DataProto.from_dict(
        tensors={"prompts": prompt, "responses": response_ids.unsqueeze(0), "attention_mask": attention_mask},
        non_tensors={
            "data_source": np.array([row["data_source"]], dtype=object),
            "reward_model": np.array([row["reward_model"]], dtype=object),
            "extra_info": np.array([dict(row["extra_info"])], dtype=object),
        },
    )
    return manager.loop.run_until_complete(manager.run_single(data))  # the loop verl bound it to


def _response_log_probs(model, prompt_ids, mm_inputs, responses):
    """Log-probs of each response token under `model`, images included (as the actor computes them)."""
    from verl.utils.torch_functional import logprobs_from_logits

    batch = responses.shape[0]
    prompt = torch.tensor([prompt_ids]).repeat(batch, 1)
    input_ids = torch.cat([prompt, responses], dim=1)
    outputs = model(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        pixel_values=mm_inputs["pixel_values"].repeat(batch, 1),
        image_grid_thw=mm_inputs["image_grid_thw"].repeat(batch, 1),
    )
    logits = outputs.logits[:, len(prompt_ids) - 1 : -1, :]
    return logprobs_from_logits(logits, responses)


def test_one_grpo_step_updates_the_policy(step_inputs, tiny_vl_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor, AutoTokenizer
    from verl.trainer.ppo.core_algos import agg_loss, compute_grpo_outcome_advantage, get_policy_loss_fn, kl_penalty
    from verl.trainer.ppo.reward import load_reward_manager
    from verl.trainer.ppo.utils import create_rl_dataset
    from verl.utils.config import omega_conf_to_dataclass
    from verl.utils.dataset.rl_dataset import get_dataset_class

    cfg = step_inputs
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_vl_dir)
    processor = AutoProcessor.from_pretrained(tiny_vl_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_vl_dir, dtype=torch.float32)
    reference = AutoModelForImageTextToText.from_pretrained(tiny_vl_dir, dtype=torch.float32).eval()
    actor_cfg = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    n = cfg.actor_rollout_ref.rollout.n
    assert n == N_ROLLOUTS

    dataset = create_rl_dataset(cfg.data.train_files, cfg.data, tokenizer, processor, is_train=True)
    dataset_cls = get_dataset_class(cfg.data)
    assert type(dataset) is dataset_cls and dataset_cls.__name__ == "WeThinkDataset"
    manager = load_reward_manager(cfg, tokenizer)
    rows = [dataset[i] for i in range(len(dataset))]
    rows = [r for r in rows if r["extra_info"]["reward_method"] == "rule" and r["extra_info"]["category"] == "multiple_choice"][:2]
    assert len(rows) == 2, "the sample must hold rule-scored multiple-choice rows"

    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=actor_cfg.optim.lr)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    total_loss, all_scores = 0.0, []
    for group, row in enumerate(rows):
        prompt_ids, mm_inputs = _rollout_prompt(row, cfg, dataset_cls, tokenizer, processor, model.config.model_type)
        gold = f"<think>the options are compared</think><answer>{row['reward_model']['ground_truth']}</answer>"
        target = tokenizer.encode(gold, add_special_tokens=False)[: MAX_NEW_TOKENS - 1]
        force = ForceSomeRows(len(prompt_ids), set(range(FORCED_PER_GROUP)), target, tokenizer.eos_token_id)
        with torch.no_grad():
            generated = model.generate(
                input_ids=torch.tensor([prompt_ids]),
                attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                pixel_values=mm_inputs["pixel_values"],
                image_grid_thw=mm_inputs["image_grid_thw"],
                do_sample=True,
                num_return_sequences=n,
                max_new_tokens=MAX_NEW_TOKENS,
                min_new_tokens=MAX_NEW_TOKENS,  # fixed width; the EOS-padded tail is masked out below
                logits_processor=[force],
                pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
            )
        responses = generated[:, len(prompt_ids) :]
        assert responses.shape == (n, MAX_NEW_TOKENS)
        is_eos = (responses == tokenizer.eos_token_id).int()
        response_mask = (torch.cumsum(is_eos, dim=1) - is_eos == 0).float()  # up to and including the first EOS

        results = [
            _score(manager, tokenizer, row, prompt_ids, responses[i], response_mask[i].long()) for i in range(n)
        ]
        scores = torch.tensor([r["reward_score"] for r in results], dtype=torch.float32)
        keys = {frozenset(r["reward_extra_info"]) for r in results}
        assert len(keys) == 1, "every sample must return the same reward keys"
        assert torch.allclose(scores[:FORCED_PER_GROUP], torch.ones(FORCED_PER_GROUP)), results[:FORCED_PER_GROUP]
        assert scores[FORCED_PER_GROUP:].max() < 1.0
        all_scores.append(scores)

        last = response_mask.sum(dim=1).long() - 1
        token_level_rewards = torch.zeros_like(response_mask)
        token_level_rewards[torch.arange(n), last] = scores
        advantages, _ = compute_grpo_outcome_advantage(
            token_level_rewards=token_level_rewards,
            response_mask=response_mask,
            index=np.array([f"prompt-{group}"] * n, dtype=object),
            norm_adv_by_std_in_grpo=cfg.algorithm.norm_adv_by_std_in_grpo,
        )
        assert (advantages[:FORCED_PER_GROUP].sum(1) > 0).all() and (advantages[FORCED_PER_GROUP:].sum(1) < 0).all()

        log_prob = _response_log_probs(model, prompt_ids, mm_inputs, responses)
        with torch.no_grad():
            ref_log_prob = _response_log_probs(reference, prompt_ids, mm_inputs, responses)
        policy_loss_fn = get_policy_loss_fn(actor_cfg.policy_loss.loss_mode)
        pg_loss, _ = policy_loss_fn(
            old_log_prob=log_prob.detach(),
            log_prob=log_prob,
            advantages=advantages,
            response_mask=response_mask,
            loss_agg_mode=actor_cfg.loss_agg_mode,
            config=actor_cfg,
        )
        kl = kl_penalty(log_prob, ref_log_prob, kl_penalty=actor_cfg.kl_loss_type)
        kl_loss = agg_loss(kl, response_mask, loss_agg_mode=actor_cfg.loss_agg_mode)
        loss = (pg_loss + actor_cfg.kl_loss_coef * kl_loss) / len(rows)
        loss.backward()
        total_loss += float(loss.detach())

    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads, "no parameter received a gradient"
    assert all(torch.isfinite(g).all() for g in grads)
    grad_norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    assert grad_norm > 0
    optimizer.step()
    changed = sum(not torch.equal(before[name], p.detach()) for name, p in model.named_parameters())
    assert changed > 0 and np.isfinite(total_loss)

