"""The hybrid reward loaded and run by verl 0.9.1 itself: hydra-composed `ppo_trainer` config,
`load_reward_manager`, `run_single` on real `DataProto` batches (naive and rate_limited managers), and a full
rule-route GRPO step of 4096 responses through verl's `RewardLoopWorker` (the class verl runs as a Ray actor).

The tokenizer is a byte-level BPE trained in memory on this file's texts: nothing is downloaded.
"""

import asyncio
import random

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast
from verl import DataProto
from verl.trainer.ppo.reward import load_reward_manager

from rewards.hybrid import RESULT_KEYS
from rewards.outcome import Reason
from tests.openai_server import ChatServer, Reply, last_user_text
from tests.repo import compose_verl

PROMPT_LENGTH = 4
MC = "Which bar is tallest?\nA. 12\nB. 42\nC. 7\nD. 9"
THINK = "<think>I read the labels in the figure and compare the values one by one before I answer.</think>"


def rule_step(prompts: int, rollouts: int, seed: int = 0) -> list[tuple[str, str, dict, bool]]:
    """One GRPO step of rule-route samples, `prompts` questions x `rollouts` answers: (response, ground truth,
    extra_info, whether it deserves acc 1). Answers are right in several forms, wrong, hedged, or outside an answer
    block, with fresh values per question."""
    rng = random.Random(seed)
    step = []
    for index in range(prompts):
        n = rng.randint(8, 500)  # not 7: 7/7 would equal 7/n
        category, question, reference, right, wrong = rng.choice([
            ("multiple_choice", f"Which value is shown?\nA. {n}\nB. {n + 1}\nC. {n + 2}\nD. {n + 3}", "A",
             ["A", "(A)", f"A. {n}"], ["B", f"C. {n + 2}", "A or B"]),
            ("numeric", "How long is the red segment in cm?", str(n), [f"{n} cm", f"x = {n}"], [str(n + 1)]),
            ("math", "Simplify the expression in the figure.", f"\\frac{{{n}}}{{7}}",
             [f"{n}/7", f"\\frac{{{2 * n}}}{{14}}"], [f"\\frac{{{n + 1}}}{{7}}", f"\\frac{{7}}{{{n}}}"]),
            ("yes_no", "Is the light green?", "Yes", ["yes", "Yes, it is."], ["No", "yes or no"]),
        ])  # fmt: skip
        info = {"reward_method": "rule", "category": category, "question": f"<image>{question}", "index": index}
        for _ in range(rollouts):
            deserved = rng.random() < 0.5
            answer = rng.choice(right if deserved else wrong)
            if rng.random() < 0.1:  # no answer block: acc 0 whatever it says
                step.append((f"{THINK} The answer is {answer}.", reference, dict(info), False))
            else:
                step.append((f"{THINK}\n<answer>{answer}</answer>", reference, dict(info), deserved))
    return step


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    corpus = [THINK, MC, "<think> </think> <answer> </answer> 0123456789 \\frac{}{} \\sqrt ^ ( ) [ ] , . ="]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500,
        special_tokens=["<|endoftext|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", clean_up_tokenization_spaces=False
    )
    directory = tmp_path_factory.mktemp("tokenizer")
    fast.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def tokenizer(tokenizer_dir):
    return PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)


def verl_config(tokenizer_dir, manager: str, reward_kwargs: dict | None = None, extra: tuple = ()):
    """verl's real ppo_trainer config with the recipe's reward overrides."""
    return compose_verl(
        f"actor_rollout_ref.model.path={tokenizer_dir}",
        "reward.custom_reward_function.path=pkg://rewards.hybrid",
        "reward.custom_reward_function.name=compute_score",
        f"reward.reward_manager.name={manager}",
        *(f"+reward.custom_reward_function.reward_kwargs.{k}={v}" for k, v in (reward_kwargs or {}).items()),
        *extra,
    )


def make_batch(tokenizer, rows: list[tuple[str, str, dict]]) -> DataProto:
    """A rollout batch as verl's reward loop receives it: right-padded responses after a prompt."""
    encoded = [tokenizer.encode(text, add_special_tokens=False) + [tokenizer.eos_token_id] for text, _, _ in rows]
    width = max(len(ids) for ids in encoded)
    responses = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    response_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, ids in enumerate(encoded):
        responses[i, : len(ids)] = torch.tensor(ids)
        response_mask[i, : len(ids)] = 1
    prompts = torch.full((len(rows), PROMPT_LENGTH), tokenizer.eos_token_id, dtype=torch.long)
    attention_mask = torch.cat([torch.ones_like(prompts), response_mask], dim=1)
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": responses,
            "input_ids": torch.cat([prompts, responses], dim=1),
            "attention_mask": attention_mask,
        },
        non_tensors={
            "data_source": np.array(["wethink"] * len(rows), dtype=object),
            "reward_model": np.array([{"ground_truth": gt, "style": "rule"} for _, gt, _ in rows], dtype=object),
            "extra_info": np.array([dict(info) for _, _, info in rows], dtype=object),
        },
    )


def stack_like_verl(outputs: list[dict]) -> dict[str, np.ndarray]:
    """What RewardLoopManager / AgentLoop do with the outputs: index every sample by the first one's keys."""
    infos = [o["reward_extra_info"] for o in outputs]
    return {key: np.array([info[key] for info in infos]) for key in infos[0]}


def rule(category: str | None, question: str = "<image>What is shown?") -> dict:
    info = {"reward_method": "rule", "question": question}
    return info | ({"category": category} if category else {})


def reply_like_a_judge(request: dict) -> Reply:
    user = last_user_text(request)
    return Reply("1" if "yellow coat" in user.split("<candidate_answer>")[1] else "0")


# (response, ground truth, extra_info, expected acc, expected format)
CASES = [
    ("<think>t</think><answer>B</answer>", "B", rule("multiple_choice", MC), 1.0, 1.0),
    ("<think>t</think><answer>A B C D</answer>", "B", rule("multiple_choice", MC), 0.0, 1.0),
    ("<think>t</think><answer>1,250 cm</answer>", "1250", rule("numeric"), 1.0, 1.0),
    ("<think>t</think><answer>\\frac{2}{4}</answer>", "0.5", rule("math"), 1.0, 1.0),
    ("<think>t</think><answer>No</answer>", "Yes", rule("yes_no"), 0.0, 1.0),
    ("<answer>42</answer>", "42", rule(None), 1.0, 0.0),  # no think: format 0, still judged by the rules
    ("<think>t</think>The answer is 42.", "42", rule("numeric"), 0.0, 0.0),  # no answer block
    ("<think>t</think><answer>A man in a yellow coat.</answer>", "A man in a yellow coat walks.",
     {"reward_method": "model", "category": "descriptive", "question": "<image>Describe it."}, 1.0, 1.0),
    ("<think>t</think><answer>red</answer>", "red", {"question": "Which color?"}, 1.0, 1.0),  # route inferred
]  # fmt: skip


async def test_naive_manager_runs_the_hybrid_reward_on_a_real_batch(tokenizer_dir, tokenizer):
    with ChatServer(reply_like_a_judge) as server:
        config = verl_config(
            tokenizer_dir, "naive", {"judge_url": server.base_url, "judge_model": "judge", "acc_weight": 0.6,
                                     "format_weight": 0.4}  # fmt: skip
        )
        manager = load_reward_manager(config, tokenizer)
        batch = make_batch(tokenizer, [(r, gt, info) for r, gt, info, _, _ in CASES])
        outputs = await asyncio.gather(*(manager.run_single(batch[i : i + 1]) for i in range(len(batch))))
    assert type(manager).__name__ == "NaiveRewardManager"
    assert len(server.requests) == 1  # only the descriptive row went to the judge
    stacked = stack_like_verl(outputs)
    assert tuple(stacked) == RESULT_KEYS
    for i, (_, _, _, acc, fmt) in enumerate(CASES):
        assert (stacked["acc"][i], stacked["format"][i]) == (acc, fmt), CASES[i][0]
        assert outputs[i]["reward_score"] == pytest.approx(0.6 * acc + 0.4 * fmt)
    assert list(stacked["route_model"]) == [0, 0, 0, 0, 0, 0, 0, 1, 0]
    assert list(stacked["route_inferred"]) == [0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert stacked["reason"][1] == Reason.MULTIPLE_OPTIONS and stacked["reason"][6] == Reason.NO_ANSWER_BLOCK


async def test_rate_limited_manager_keeps_the_fixed_keys_when_the_judge_is_down(tokenizer_dir, tokenizer):
    """rate_limited swaps in its own keys when a reward function overruns reward.timeout: ours must not."""
    config = verl_config(
        tokenizer_dir,
        "rate_limited",
        {"judge_url": "http://127.0.0.1:9/v1", "judge_model": "judge", "judge_timeout": 0.5, "judge_retries": 1},
        extra=("+reward.max_concurrent=16", "+reward.timeout=20"),
    )
    manager = load_reward_manager(config, tokenizer)
    assert type(manager).__name__ == "RateLimitedRewardManager"
    batch = make_batch(tokenizer, [(r, gt, info) for r, gt, info, _, _ in CASES])
    outputs = await asyncio.gather(*(manager.run_single(batch[i : i + 1]) for i in range(len(batch))))
    stacked = stack_like_verl(outputs)
    assert tuple(stacked) == RESULT_KEYS  # no "timeout: True" / "error" keys from the manager
    judged_row = 7
    assert stacked["judge_ok"][judged_row] == 0 and stacked["reason"][judged_row] == Reason.JUDGE_DOWN
    assert stacked["acc"][0] == 1.0 and stacked["acc"][3] == 1.0


async def test_a_rule_route_grpo_step_of_4096_responses_through_verls_reward_loop_worker(tokenizer_dir):
    """512 prompts x 8 rollouts, scored by the worker class verl runs as a Ray actor: no exception, no timeout."""
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    samples = rule_step(prompts=512, rollouts=8)
    worker = RewardLoopWorker(verl_config(tokenizer_dir, "naive"))
    tokenizer = worker.input_tokenizer
    batch = make_batch(tokenizer, [(response, gt, info) for response, gt, info, _ in samples])
    outputs = await worker.compute_score_batch(batch)
    stacked = stack_like_verl(outputs)
    assert len(outputs) == 4096 and tuple(stacked) == RESULT_KEYS
    assert stacked["timeout"].sum() == 0
    assert not np.isin(stacked["reason"], [Reason.INTERNAL_ERROR, Reason.MATH_TIMEOUT, Reason.MATH_ERROR]).any()
    wrong = [i for i, (*_, deserved) in enumerate(samples) if (stacked["acc"][i] == 1.0) != deserved]
    assert wrong == [], [samples[i][0][-80:] for i in wrong[:5]]
    assert 0.3 < stacked["acc"].mean() < 0.6  # both right and wrong answers in the step: the check above can fail
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []  # nothing left running


def test_math_rows_score_inside_a_ray_actor_like_verls_reward_workers(tokenizer_dir, tokenizer):
    """verl runs RewardLoopWorker as a Ray async actor: rewards run off the main thread, where math-verify's
    signal-based timeout cannot work. A pathological expression must time out there, not hang the actor."""
    import ray
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    rows = [
        ("<think>t</think><answer>(x+1)^2</answer>", "x^2+2x+1", rule("math"), 1.0),
        ("<think>t</think><answer>9^{9^{9^{9}}}</answer>", "10", rule("math"), 0.0),
        ("<think>t</think><answer>\\frac{3}{6}</answer>", "0.5", rule("math"), 1.0),
    ]
    batch = make_batch(tokenizer, [(r, gt, info) for r, gt, info, _ in rows])
    config = verl_config(tokenizer_dir, "naive", {"math_timeout": 2.0, "math_workers": 1})
    started_here = not ray.is_initialized()
    if started_here:
        # address="local": a cluster of its own, even when another is running on this machine (`ray start`)
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        worker = ray.remote(RewardLoopWorker).remote(config, None)
        outputs = ray.get(worker.compute_score_batch.remote(batch), timeout=180)
        ray.kill(worker)
    finally:
        if started_here:
            ray.shutdown()
    stacked = stack_like_verl(outputs)
    assert list(stacked["acc"]) == [acc for *_, acc in rows]
    assert list(stacked["timeout"]) == [0, 1, 0] and stacked["reason"][1] == Reason.MATH_TIMEOUT

