"""The `hf_cpu` rollout server in-process (no Ray): what verl's agent loop and weight sync rely on.

The end-to-end runs prove it inside verl's trainer; these pin down its contract in seconds: sampled tokens come
with the model's own log-probs, greedy requests are deterministic, weights load 1:1 by name or fail loudly, and
the judge's chat-completions answer has the OpenAI shape.
"""

from __future__ import annotations

import asyncio
import types

import pytest
import torch

from recipes.cpu.rollout import HFServer, engine_options
from verl.workers.rollout.replica import RolloutMode


def make_server(model_dir, mode=RolloutMode.COLOCATED, **options) -> HFServer:
    config = types.SimpleNamespace(
        engine_kwargs={"hf_cpu": options} if options else {},
        load_format="dummy" if mode == RolloutMode.HYBRID else "auto",
        max_model_len=None,
        prompt_length=256,
        response_length=24,
    )
    model_config = types.SimpleNamespace(path=str(model_dir), local_path=None)
    return HFServer(config, model_config, mode, replica_rank=0, is_reward_model=False)


def prompt_ids(server: HFServer) -> list[int]:
    return server.tokenizer.apply_chat_template(
        [{"role": "user", "content": "How many circles are there?"}], add_generation_prompt=True, tokenize=True
    )["input_ids"]


def generate(server: HFServer, ids: list[int], temperature: float):
    params = {"temperature": temperature, "top_p": 1.0, "top_k": -1, "logprobs": True}
    return asyncio.run(server.generate(ids, params, request_id="r"))


def model_log_probs(server: HFServer, ids: list[int], tokens: list[int]) -> torch.Tensor:
    full = torch.tensor([ids + tokens])
    with torch.no_grad():
        logits = server.model(input_ids=full, attention_mask=torch.ones_like(full)).logits[0, len(ids) - 1 : -1]
    return torch.log_softmax(logits.float(), dim=-1).gather(1, torch.tensor(tokens)[:, None])[:, 0]


def test_sampled_tokens_carry_the_models_own_log_probs(tiny_vl_dir):
    server = make_server(tiny_vl_dir)
    ids = prompt_ids(server)
    out = generate(server, ids, temperature=1.0)
    assert 0 < len(out.token_ids) <= 24 and len(out.log_probs) == len(out.token_ids)
    assert torch.allclose(torch.tensor(out.log_probs), model_log_probs(server, ids, out.token_ids), atol=1e-4)
    assert out.extra_fields["global_steps"] is None  # the v1 trainer reads the key for every sample
    vision = set(server.suppress)
    assert vision and not vision & set(out.token_ids), "vision special tokens must never be sampled"


def image_log_probs(server: HFServer, ids: list[int], tokens: list[int], image, token_types: bool) -> torch.Tensor:
    """Log-probs of `tokens` after an image prompt, from HF's forward on the processor's own output (what verl's
    dataset hands the actor): with the image tokens' types, or (the old rollout's input) without them."""
    vision = server.processor.image_processor(images=[image], return_tensors="pt")
    full = torch.tensor([ids + tokens])
    extra = {"mm_token_type_ids": torch.tensor(server.processor.create_mm_token_type_ids(full.tolist()))} if token_types else {}
    with torch.no_grad():
        logits = server.model(input_ids=full, attention_mask=torch.ones_like(full), pixel_values=vision["pixel_values"],
                              image_grid_thw=vision["image_grid_thw"], **extra).logits[0, len(ids) - 1 : -1]  # fmt: skip
    return torch.log_softmax(logits.float(), dim=-1).gather(1, torch.tensor(tokens)[:, None])[:, 0]


def test_an_image_prompt_is_seen_as_the_actor_sees_it(tiny_vl_dir):
    """The rollout's log-probs after an image prompt are HF's on the processor's whole output: the image at its
    M-RoPE positions. Control: without the image tokens' types (the rollout before this was fixed: it generated
    as if blind, and GRPO could not learn from the picture) the same tokens get other log-probs."""
    from PIL import Image

    server = make_server(tiny_vl_dir)
    picture = Image.new("RGB", (224, 224), (200, 30, 30))  # 64 visual tokens: their positions matter
    text = server.processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour is it?"}]}],
        add_generation_prompt=True, tokenize=False,
    )  # fmt: skip
    ids = server.processor(text=[text], images=[picture], return_tensors="pt")["input_ids"][0].tolist()
    params = {"temperature": 1.0, "top_p": 1.0, "top_k": -1, "logprobs": True}
    out = asyncio.run(server.generate(ids, params, request_id="r", image_data=[picture]))
    rollout = torch.tensor(out.log_probs)
    assert torch.allclose(rollout, image_log_probs(server, ids, out.token_ids, picture, token_types=True), atol=1e-5)
    blind = image_log_probs(server, ids, out.token_ids, picture, token_types=False)
    assert (rollout - blind).abs().max() > 1e-4  # measured 2e-3 on the tiny random model, 5e-7 for the match


def image_prompt(server: HFServer, picture, question: str) -> list[int]:
    text = server.processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}],
        add_generation_prompt=True, tokenize=False,
    )  # fmt: skip
    return server.processor(text=[text], images=[picture], return_tensors="pt")["input_ids"][0].tolist()


def count_generate_calls(server: HFServer) -> list[int]:
    """Wraps the model's `generate`: the returned list gets each call's batch size."""
    calls, generate = [], server.model.generate

    def counted(**inputs):
        calls.append(inputs["input_ids"].shape[0])
        return generate(**inputs)

    server.model.generate = counted
    return calls


async def generate_together(server: HFServer, requests: list[tuple[list[int], list, float]]):
    """Sends the requests as verl's agent loop does: all at once, each awaiting its own answer."""
    calls = [
        server.generate(ids, {"temperature": t, "top_p": 1.0, "top_k": -1, "logprobs": True}, request_id=f"r{i}",
                        image_data=images)
        for i, (ids, images, t) in enumerate(requests)
    ]  # fmt: skip
    return await asyncio.gather(*calls)


def test_requests_sent_together_share_one_generate_and_keep_their_own_log_probs(tiny_vl_dir):
    """The agent loop's requests of a step are generated as one left-padded batch: every row's tokens come with the
    log-probs HF's forward gives that row alone (pictures of different sizes and prompts of different lengths, so
    padding and image placement are exercised). Control: the same requests one after another take one call each."""
    from PIL import Image

    server = make_server(tiny_vl_dir)
    pictures = [Image.new("RGB", size, colour) for size, colour in
                [((224, 224), (200, 30, 30)), ((112, 168), (30, 200, 30)), ((56, 56), (30, 30, 200))]]  # fmt: skip
    requests = [(image_prompt(server, p, "What colour" + " is it" * k + "?"), [p], 1.0) for k, p in enumerate(pictures)]
    requests.append((prompt_ids(server), None, 1.0))  # a text-only row in the same batch
    assert len({len(ids) for ids, _, _ in requests}) == len(requests)
    calls = count_generate_calls(server)
    outputs = asyncio.run(generate_together(server, requests * 2))
    assert calls == [8]
    for (ids, images, _), out in zip(requests * 2, outputs):
        assert 0 < len(out.token_ids) <= 24 and len(out.log_probs) == len(out.token_ids)
        alone = image_log_probs(server, ids, out.token_ids, images[0], token_types=True) if images else \
            model_log_probs(server, ids, out.token_ids)  # fmt: skip
        assert torch.allclose(torch.tensor(out.log_probs), alone, atol=1e-4)
        eos = [i for i, token in enumerate(out.token_ids) if token in server.eos_ids]
        assert eos in ([], [len(out.token_ids) - 1]), "a row ends at its first EOS, without the batch's padding"
    for ids, images, t in requests:
        asyncio.run(generate_together(server, [(ids, images, t)]))
    assert calls == [8, 1, 1, 1, 1]


def test_a_batch_holds_one_sampling_setting_and_greedy_rows_match_their_lone_answer(tiny_vl_dir):
    """Validation (greedy) and training (sampled) requests never share a `generate`; a greedy answer in a batch is
    the one the request gets alone."""
    from PIL import Image

    server = make_server(tiny_vl_dir)
    pictures = [Image.new("RGB", (112, 112), (40 * k, 200 - 40 * k, 90)) for k in range(4)]
    greedy = [(image_prompt(server, p, "Colour" + "?" * k), [p], 0.0) for k, p in enumerate(pictures)]
    sampled = [(ids, images, 1.0) for ids, images, _ in greedy]
    calls = count_generate_calls(server)
    outputs = asyncio.run(generate_together(server, [r for pair in zip(greedy, sampled) for r in pair]))
    assert sorted(calls) == [4, 4]
    batched_greedy = [out.token_ids for out in outputs[0::2]]
    alone = [asyncio.run(generate_together(server, [r]))[0].token_ids for r in greedy]
    assert batched_greedy == alone


def test_a_failing_batch_fails_each_of_its_requests_and_the_server_goes_on(tiny_vl_dir):
    from PIL import Image

    server = make_server(tiny_vl_dir)
    picture = Image.new("RGB", (112, 112), (200, 30, 30))
    ids = image_prompt(server, picture, "What colour is it?")
    pad = server.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    short = ids[: ids.index(pad)] + ids[ids.index(pad) + 1 :]  # one image pad token lost
    bad = [(short, [picture], 1.0), (ids, [picture], 1.0)]

    async def both():
        return await asyncio.gather(*[generate_together(server, [r]) for r in bad], return_exceptions=True)

    results = asyncio.run(both())
    assert all(isinstance(r, ValueError) and "image pad tokens" in str(r) for r in results)
    assert asyncio.run(generate_together(server, [bad[1]]))[0].token_ids


def test_greedy_requests_are_deterministic_and_sampled_ones_vary(tiny_vl_dir):
    """Validation decodes greedily (temperature 0): the same prompt gives the same tokens every time."""
    server = make_server(tiny_vl_dir)
    ids = prompt_ids(server)
    greedy = {tuple(generate(server, ids, temperature=0.0).token_ids) for _ in range(3)}
    sampled = {tuple(generate(server, ids, temperature=1.0).token_ids) for _ in range(3)}
    assert len(greedy) == 1 and len(sampled) > 1  # the control: sampling the same prompt does vary


def test_weights_load_by_name_and_a_mismatch_fails_loudly(tiny_vl_dir):
    server = make_server(tiny_vl_dir, mode=RolloutMode.HYBRID)  # dummy weights until the first sync
    actor = make_server(tiny_vl_dir).model  # the "actor": the checkpoint's weights
    state = {name: tensor.to(torch.bfloat16) for name, tensor in actor.state_dict().items()}  # verl sends bf16
    assert server.update_weights(state, global_steps=3) == len(state)
    assert server.global_steps == 3
    for name, param in server.model.named_parameters():
        assert torch.equal(param.detach(), state[name].float()), name
    with pytest.raises(KeyError, match="no rollout parameter"):
        server.update_weights({**state, "model.not_a_layer.weight": torch.zeros(1)})
    partial = dict(list(state.items())[:-3])
    with pytest.raises(KeyError, match="did not send"):
        server.update_weights(partial)


def test_ignore_weight_updates_is_a_real_switch(tiny_vl_dir):
    server = make_server(tiny_vl_dir, mode=RolloutMode.HYBRID, ignore_weight_updates=True)
    before = {n: p.detach().clone() for n, p in server.model.named_parameters()}
    actor = make_server(tiny_vl_dir).model
    server.update_weights(dict(actor.state_dict()), global_steps=1)
    assert all(torch.equal(before[n], p.detach()) for n, p in server.model.named_parameters())


def test_chat_completion_answers_in_the_openai_shape(tiny_vl_dir):
    server = make_server(tiny_vl_dir)
    body = {"model": "judge", "messages": [{"role": "user", "content": "Score (1, 0.5 or 0):"}], "max_tokens": 8}
    reply = asyncio.run(server.chat_completion(body))
    assert reply["object"] == "chat.completion" and reply["model"] == "judge"
    assert isinstance(reply["choices"][0]["message"]["content"], str)


@pytest.mark.parametrize(
    "options, named", [({"canned_share": 0.4}, "unknown keys"), ({"ignore_weight_update": True}, "unknown keys")]
)
def test_bad_switches_are_refused_naming_the_key(options, named):
    with pytest.raises(ValueError, match=named):
        engine_options(types.SimpleNamespace(engine_kwargs={"hf_cpu": options}))
