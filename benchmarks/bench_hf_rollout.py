"""Benchmark of the `hf_cpu` rollout server (`recipes.cpu.rollout.HFServer`): a GRPO step's requests generated
together (one HF `generate` per batch) against the same requests one at a time (the server before batching).

    python benchmarks/bench_hf_rollout.py [--prompts 16] [--n 5] [--max-tokens 48] [--rounds 3]

The requests are what verl's agent loop sends in a CPU learning run: `--prompts` pictures of the learning task's
size (64 visual tokens) with a question each, `--n` samples of each at temperature 1, sent at once. The server is the
real one, in-process (no Ray), on the CPU backend's tiny model; the baseline is the same server with its batch size
capped at one request. Both run in this process, interleaved over `--rounds` (best round each). It prints seconds,
tokens/s and the ratio. Greedy answers are also compared: each batched greedy answer must equal the lone one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from recipes.cpu import rollout  # noqa: E402
from recipes.cpu.tiny_model import ensure_tiny_model  # noqa: E402

COLOURS = ((220, 40, 40), (40, 170, 60), (40, 80, 220), (128, 128, 128))
SIDE = 224  # 8 x 8 merged patches of 28 px, as examples/learn/make_task.py draws them


def make_server(model_dir: Path, max_tokens: int) -> rollout.HFServer:
    config = types.SimpleNamespace(engine_kwargs={}, load_format="auto", max_model_len=None, prompt_length=1024,
                                   response_length=max_tokens)  # fmt: skip
    model_config = types.SimpleNamespace(path=str(model_dir), local_path=None)
    return rollout.HFServer(config, model_config, rollout.RolloutMode.COLOCATED, replica_rank=0, is_reward_model=False)


def requests(server: rollout.HFServer, prompts: int) -> list[tuple[list[int], list]]:
    from PIL import Image

    out = []
    for i in range(prompts):
        picture = Image.new("RGB", (SIDE, SIDE), COLOURS[i % len(COLOURS)])
        question = "What is the background colour? A. red B. green C. blue D. grey" + " Answer." * (i % 3)
        text = server.processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}],
            add_generation_prompt=True, tokenize=False,
        )  # fmt: skip
        ids = server.processor(text=[text], images=[picture], return_tensors="pt")["input_ids"][0].tolist()
        out.append((ids, [picture]))
    return out


async def send_together(server, batch, temperature: float):
    params = {"temperature": temperature, "top_p": 1.0, "top_k": -1, "logprobs": True}
    calls = [server.generate(ids, params, request_id=f"r{i}", image_data=images) for i, (ids, images) in enumerate(batch)]
    return await asyncio.gather(*calls)


def timed(server, batch, rows_cap: int) -> tuple[float, int]:
    """Seconds and generated tokens for `batch` sent at once, the server's batches capped at `rows_cap` rows."""
    saved = rollout.MAX_BATCH_ROWS
    rollout.MAX_BATCH_ROWS = rows_cap
    try:
        started = time.perf_counter()
        outputs = asyncio.run(send_together(server, batch, temperature=1.0))
        return time.perf_counter() - started, sum(len(o.token_ids) for o in outputs)
    finally:
        rollout.MAX_BATCH_ROWS = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--n", type=int, default=5, help="samples per prompt")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    server = make_server(ensure_tiny_model(), args.max_tokens)
    prompts = requests(server, args.prompts)
    batch = [r for r in prompts for _ in range(args.n)]
    best = {"one at a time": (float("inf"), 0), "batched": (float("inf"), 0)}
    for _ in range(args.rounds):
        for name, cap in (("one at a time", 1), ("batched", rollout.MAX_BATCH_ROWS)):
            seconds, tokens = timed(server, batch, cap)
            best[name] = min(best[name], (seconds, tokens))
    greedy_batched = [o.token_ids for o in asyncio.run(send_together(server, prompts, temperature=0.0))]
    greedy_alone = [asyncio.run(send_together(server, [p], temperature=0.0))[0].token_ids for p in prompts]

    print(f"{len(batch)} requests ({args.prompts} pictures x {args.n}), up to {args.max_tokens} tokens, "
          f"best of {args.rounds} rounds")  # fmt: skip
    print(f"{'mode':<15} {'seconds':>8} {'tokens':>7} {'tokens/s':>9} {'x base':>7}")
    base = best["one at a time"][0]
    for name, (seconds, tokens) in best.items():
        print(f"{name:<15} {seconds:>8.2f} {tokens:>7} {tokens / seconds:>9.0f} {base / seconds:>6.1f}x")
    same = sum(a == b for a, b in zip(greedy_batched, greedy_alone))
    print(f"greedy answers equal to the lone request's: {same}/{len(prompts)}")
    return 0 if same == len(prompts) else 1


if __name__ == "__main__":
    sys.exit(main())
