"""Write a VLMEvalKit `--config` JSON that evaluates a trained checkpoint the way WeThink-Qwen2.5VL-7B was evaluated.

VLMEvalKit's `WeThinkVL` class already implements the paper's protocol (system prompt except on OCRBench and
AI2D_TEST, answer extracted from `<answer>`); this file only fills in our checkpoint and the paper's settings,
taken from `data_prep.schema` so training and evaluation cannot drift apart.

    python examples/eval/make_vlmeval_config.py --model-path /ckpt/hf --out wethink_eval.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from data_prep.schema import EVAL_MAX_PIXELS, EVAL_MIN_PIXELS, SYSTEM_PROMPT

# Benchmark -> (VLMEvalKit dataset name, dataset class). The names drive VLMEvalKit's judging, keep them exact.
BENCHMARKS = {
    "MathVista": ("MathVista_MINI", "MathVista"),
    "MathVision": ("MathVision", "MathVision"),
    "MathVerse": ("MathVerse_MINI_Vision_Only", "MathVerse"),
    "DynaMath": ("DynaMath", "Dynamath"),
    "WeMath": ("WeMath", "WeMath"),
    "LogicVista": ("LogicVista", "LogicVista"),
    "MMBench": ("MMBench_DEV_EN_V11", "ImageMCQDataset"),
    "MMStar": ("MMStar", "ImageMCQDataset"),
    "MMMU": ("MMMU_DEV_VAL", "MMMUDataset"),
    "HallusionBench": ("HallusionBench", "ImageYORNDataset"),
    "AI2D": ("AI2D_TEST", "ImageMCQDataset"),
    "OCRBench": ("OCRBench", "OCRBench"),
    "MMVet": ("MMVet", "MMVet"),
}

# Near-greedy decoding with a 2048-token budget, as in the paper's evaluation.
DECODING = {"max_new_tokens": 2048, "temperature": 0.01, "top_p": 0.001, "top_k": 1, "repetition_penalty": 1.0}


def build_config(model_path: str, name: str, benchmarks: list[str]) -> dict:
    unknown = sorted(set(benchmarks) - set(BENCHMARKS))
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}")
    model = {
        "class": "WeThinkVL",
        "model_path": model_path,
        "min_pixels": EVAL_MIN_PIXELS,
        "max_pixels": EVAL_MAX_PIXELS,
        "use_custom_prompt": False,
        "system_prompt": SYSTEM_PROMPT,
        "post_process": True,
        **DECODING,
    }
    data = {BENCHMARKS[b][0]: {"class": BENCHMARKS[b][1], "dataset": BENCHMARKS[b][0]} for b in benchmarks}
    return {"model": {name: model}, "data": data}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-path", required=True, help="a Hugging Face checkpoint (merge verl's first)")
    parser.add_argument("--name", default="WeThink-verl-7B", help="the model name in VLMEvalKit's outputs")
    parser.add_argument("--benchmarks", nargs="+", default=list(BENCHMARKS), metavar="NAME")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        config = build_config(args.model_path, args.name, args.benchmarks)
    except ValueError as exc:
        parser.error(str(exc))
    args.out.write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote {args.out}: {args.name} on {len(config['data'])} benchmarks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
