"""`python -m data_prep.synthesize --images DIR --out FILE.jsonl ...` (console script `wethink-synthesize`).

Resuming: re-running the same command continues a stopped run (killed, interrupted, or with images that failed
on endpoint errors). Finished images are not redone, and every reply already received comes from the stage
cache, so nothing is asked twice and nothing is lost or duplicated.

Exit status: 0 when every image is done, 1 when some failed on endpoint errors (re-run the same command to
retry them), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from data_prep.cli_help import HelpFormatter
from rewards.chat_client import ChatEndpoint

from .config import DEFAULT_PARAMS, REQUEST_TIMEOUT, SynthesisConfig, default
from .pipeline import synthesize
from .summary import format_summary
from .templates import PromptError

ROLES = {
    "vlm": "vision-language model: captions, answers follow-ups, answers questions from the image",
    "reasoner": "text reasoning model: asks for missing details, writes questions, answers from the description",
    "judge": "judge for descriptive answers (default: the reasoner)",
    "arbiter": "optional third model that sees the image and settles disagreements",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wethink-synthesize",
        description="Synthesize WeThink-schema multimodal QA with reasoning paths from a directory of images, "
        "using OpenAI-compatible endpoints (vllm serve or a hosted API).",
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--images", type=Path, required=True, help="root directory of the images (searched recursively)"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="output JSONL (rows); .rejects/.done/.summary files go next to it"
    )
    for role, help_text in ROLES.items():
        group = parser.add_argument_group(f"{role} endpoint", help_text)
        required = role in ("vlm", "reasoner")
        group.add_argument(f"--{role}-url", required=required, help="base URL ending in /v1")
        group.add_argument(f"--{role}-model", required=required, help="model name as the server knows it")
        group.add_argument(
            f"--{role}-key-env", metavar="VAR", help="NAME of the environment variable holding the API key"
        )
    parser.add_argument(
        "--refine-turns", type=int, default=default("refine_turns"),
        help="follow-up rounds before the final description (0: none)",
    )
    parser.add_argument(
        "--questions-per-image", type=int, default=default("questions_per_image"), help="questions asked for each image"
    )
    parser.add_argument("--concurrency", type=int, default=default("concurrency"), help="images processed at once")
    parser.add_argument(
        "--endpoint-concurrency", type=int, help="requests in flight per server (default: --concurrency)"
    )
    parser.add_argument("--timeout", type=float, default=REQUEST_TIMEOUT, help="seconds per request attempt")
    parser.add_argument(
        "--retries", type=int, default=default("retries", ChatEndpoint),
        help="retries per request on timeouts, 429 and 5xx",
    )
    parser.add_argument(
        "--temperature", type=float, default=DEFAULT_PARAMS["temperature"], help="sampling temperature of every request"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_PARAMS["seed"],
        help="sent with every request (servers that honour it are reproducible)",
    )
    parser.add_argument("--max-tokens", type=int, help="max_tokens per reply (default: the server's)")
    parser.add_argument(
        "--max-pixels", type=int, default=default("max_pixels"),
        help="downscale larger images before sending (0: send as is)",
    )
    parser.add_argument(
        "--prompts-dir", type=Path, help="directory with template files overriding the defaults by name"
    )
    parser.add_argument("--cache-dir", type=Path, help="stage cache directory (default: FILE.cache next to --out)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the stage cache")
    parser.add_argument("--limit", type=int, help="process at most this many new images")
    parser.add_argument(
        "--max-failures", type=int, default=default("max_failures"),
        help="stop after this many images fail on endpoint errors (0: never)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def endpoints_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, ChatEndpoint]:
    endpoints = {}
    for role in ROLES:
        url, model, key_env = (getattr(args, f"{role}_{part}") for part in ("url", "model", "key_env"))
        if not url and not model:
            continue
        if not (url and model):
            parser.error(f"--{role}-url and --{role}-model go together")
        if key_env and not os.environ.get(key_env):
            parser.error(f"--{role}-key-env names {key_env}, which is not set in the environment")
        endpoints[role] = ChatEndpoint(url, model, key_env, timeout=args.timeout, retries=args.retries)
    return endpoints


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    params: dict = {"temperature": args.temperature, "seed": args.seed}
    if args.max_tokens:
        params["max_tokens"] = args.max_tokens
    try:
        config = SynthesisConfig(
            images=args.images,
            out=args.out,
            endpoints=endpoints_from_args(args, parser),
            refine_turns=args.refine_turns,
            questions_per_image=args.questions_per_image,
            concurrency=args.concurrency,
            endpoint_concurrency=args.endpoint_concurrency,
            params=params,
            prompts_dir=args.prompts_dir,
            cache_dir=args.cache_dir,
            use_cache=not args.no_cache,
            max_pixels=args.max_pixels,
            limit=args.limit,
            max_failures=args.max_failures,
            progress=not args.no_progress,
        )
        summary = synthesize(config)
    except (ValueError, FileNotFoundError, FileExistsError, PromptError) as err:
        print(f"wethink-synthesize: error: {err}", file=sys.stderr)
        return 2
    print(format_summary(summary), file=sys.stderr)
    return 1 if summary["images"]["failed_this_run"] else 0


if __name__ == "__main__":
    sys.exit(main())
