"""Write a VLMEvalKit `--config` JSON that evaluates a checkpoint exactly as the official WeThink entry does.

The official entry is `WeThink-Qwen2.5VL-7B` in VLMEvalKit's `vlmeval/config.py` (class `WeThinkVL`, added in
open-compass/VLMEvalKit#1003): pixels 1280x28x28 .. 16384x28x28, `use_custom_prompt=False`, the WeThink system
prompt, and the class defaults for everything else: near-greedy decoding (top-k 1, top-p 0.001, temperature
0.01), 2048 new tokens, and `post_process` off. With `post_process` off the class still takes the answer out
of `<answer>` for MMBench (by name), and every other benchmark's judge reads the whole reply, as on the
leaderboard. The class also drops the system prompt on OCRBench and AI2D_TEST, by those exact names, so the
dataset names below are VLMEvalKit's own (see vlmeval_benchmarks.py). Only the checkpoint differs from the entry.

The entry's min_pixels (1280x28x28) equals the training stage's max_pixels (wethink_grpo.yaml, data.max_pixels), so
every evaluated image gets at least 1280 visual tokens (up to 16384) while training saw at most 1280: small images are
upscaled past anything this recipe trained on. The authors' own training (EasyR1's bounds, up to 5349 tokens) reached
further. The entry's bounds are kept because they are what the leaderboard numbers in paper_scores.csv were
measured with: a checkpoint evaluated at other bounds is not comparable with them.

    python examples/eval/make_vlmeval_config.py --model-path /ckpt/hf --out wethink_eval.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vlmeval_benchmarks import BENCHMARKS, BY_NAME

from data_prep.schema import EVAL_MAX_PIXELS, EVAL_MIN_PIXELS, SYSTEM_PROMPT

# WeThinkVL's own defaults, which the official entry keeps; written out so a changed default cannot drift us.
DECODING = {"max_new_tokens": 2048, "top_p": 0.001, "top_k": 1, "temperature": 0.01, "repetition_penalty": 1.0}


def build_config(model_path: str, name: str, benchmarks: list[str]) -> dict:
    unknown = sorted(set(benchmarks) - set(BY_NAME))
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {[b.name for b in BENCHMARKS]}")
    model = {
        "class": "WeThinkVL",
        "model_path": model_path,
        "min_pixels": EVAL_MIN_PIXELS,
        "max_pixels": EVAL_MAX_PIXELS,
        "use_custom_prompt": False,
        "system_prompt": SYSTEM_PROMPT,
        "post_process": False,
        **DECODING,
    }
    data = {
        metric.dataset: {"class": metric.dataset_class, "dataset": metric.dataset}
        for benchmark in BENCHMARKS
        if benchmark.name in benchmarks
        for metric in benchmark.metrics
    }
    return {"model": {name: model}, "data": data}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-path", required=True, help="a Hugging Face checkpoint (merge verl's first)")
    parser.add_argument("--name", default="WeThink-verl-7B", help="the model name in VLMEvalKit's outputs")
    parser.add_argument("--benchmarks", nargs="+", default=[b.name for b in BENCHMARKS], metavar="NAME")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        config = build_config(args.model_path, args.name, args.benchmarks)
    except ValueError as exc:
        parser.error(str(exc))
    args.out.write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote {args.out}: {args.name} on {len(config['data'])} VLMEvalKit datasets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
