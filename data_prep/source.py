"""Reading a WeThink JSONL source, shared by the RL prep (`data_prep.wethink`) and the SFT export (`data_prep.sft`):
the options every reader takes and their checks, the row-check options built from them, the reject-share verdict,
and the exit-status contract of both CLIs.

Exit status: 0 done; 1 done but the reject share is over --max-reject-rate, or no usable rows, or an empty input;
2 bad arguments, and only those (`argument_checks` marks them); 130 / 143 interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from data_prep import schema
from data_prep.outputs import Interrupted, interruptible
from data_prep.prompt_length import prompt_tokenizer
from data_prep.rows import rl_prompt
from data_prep.validate import CheckOptions

DEFAULT_MAX_REJECT_RATE = 0.05  # a few percent of odd rows is normal; more means a wrong flag or a broken input


class EmptyInputError(ValueError):
    """The JSONL holds no line at all: nothing to prepare (exit status 1, not a usage error)."""


@contextmanager
def argument_checks() -> Iterator[None]:
    """A ValueError / OSError raised inside is about the arguments: `run_cli` answers it with the usage and exit
    status 2. Raised anywhere else (while rows are read and written), it is a failure of the run: status 1."""
    try:
        yield
    except (ValueError, OSError) as err:
        err.bad_argument = True  # type: ignore[attr-defined]
        raise


def check_pixel_bounds(min_pixels: int, max_pixels: int) -> None:
    if not (isinstance(min_pixels, int) and isinstance(max_pixels, int) and 0 < min_pixels <= max_pixels):
        raise ValueError(f"pixel bounds must satisfy 0 < min_pixels <= max_pixels, got {min_pixels}, {max_pixels}")


def check_label_map(mapping: Mapping[str, str] | None, allowed: tuple[str, ...], name: str) -> dict[str, str]:
    """Refuse a map whose target is not canonical, so a typo cannot route rows silently."""
    for raw, target in (mapping or {}).items():
        if target not in allowed:
            raise ValueError(f"{name}: {raw!r} maps to {target!r}, expected one of {', '.join(allowed)}")
    return dict(mapping or {})


def reader_options(
    jsonl: str,
    image_root: str,
    *,
    embed_images: bool,
    min_pixels: int,
    max_pixels: int,
    reward_map: Mapping[str, str] | None,
    category_map: Mapping[str, str] | None,
    require_cot: bool = False,
    measure_prompt: bool = False,
    tokenizer: str | None = None,
    max_prompt_tokens: int | None = None,
) -> CheckOptions:
    """Validate a reader's inputs (files, pixel bounds, label maps, tokenizer) and build its row-check options."""
    if not os.path.isfile(jsonl):
        raise FileNotFoundError(f"--jsonl {jsonl!r} is not a file")
    if os.path.getsize(jsonl) == 0:
        raise EmptyInputError(f"--jsonl {jsonl!r} is empty: no rows to read")
    if not os.path.isdir(image_root):
        raise FileNotFoundError(f"--image-root {image_root!r} is not a directory")
    check_pixel_bounds(min_pixels, max_pixels)
    if max_prompt_tokens is not None and max_prompt_tokens < 0:
        raise ValueError(f"--max-prompt-tokens must be >= 0 (0: no limit), got {max_prompt_tokens}")
    if tokenizer:
        if not os.path.isdir(tokenizer):
            raise FileNotFoundError(f"--tokenizer {tokenizer!r} is not a directory (a local model or tokenizer)")
        tokenizer = os.path.abspath(tokenizer)
        prompt_tokenizer(tokenizer).text_tokens(rl_prompt("?", 1))  # a template that cannot render fails here
    return CheckOptions(
        image_root=os.path.abspath(image_root),
        keep_bytes=embed_images,
        reward_map=check_label_map(reward_map, schema.REWARD_METHODS, "reward_map"),
        category_map=check_label_map(category_map, schema.CATEGORIES, "category_map"),
        require_cot=require_cot,
        measure_prompt=measure_prompt,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        tokenizer=tokenizer,
        max_prompt_tokens=max_prompt_tokens,
    )


def check_reject_rate(max_reject_rate: float) -> None:
    if not 0 <= max_reject_rate <= 1:
        raise ValueError(f"--max-reject-rate must be between 0 and 1, got {max_reject_rate}")


def reject_verdict(n_in: int, reasons: Mapping[str, int], max_reject_rate: float) -> str | None:
    """None when the reject share is within `max_reject_rate`, else a message naming the dominant reasons."""
    rejected = sum(reasons.values())
    if not n_in or rejected / n_in <= max_reject_rate:
        return None
    top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    dominant = ", ".join(f"{reason} {count} ({count / rejected:.0%} of rejects)" for reason, count in top)
    return (
        f"{rejected} of {n_in} rows rejected ({rejected / n_in:.1%}), over --max-reject-rate {max_reject_rate:g}; "
        f"mostly {dominant}. Outputs are written; if this share is expected, re-run with a higher --max-reject-rate"
    )


def add_source_options(p: argparse.ArgumentParser, out_help: str) -> None:
    """The options every WeThink JSONL reader takes (prepare and SFT export parse rows the same way)."""
    p.add_argument(
        "--jsonl",
        required=True,
        help="WeThink JSONL (problem, answer, category, abilities, refined_cot, image_path, reward)",
    )
    p.add_argument(
        "--image-root", required=True, help="folder that image_path values are relative to (and must stay inside)"
    )
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier run in --out")
    p.add_argument("--embed-images", action="store_true", help="store image bytes instead of absolute paths")
    p.add_argument("--min-pixels", type=int, default=schema.DEFAULT_MIN_PIXELS, help="lower pixel bound per image")
    p.add_argument("--max-pixels", type=int, default=schema.DEFAULT_MAX_PIXELS, help="upper pixel bound per image")
    p.add_argument("--reward-map", nargs="+", action="extend", metavar="RAW=rule|model", help="extra reward labels")
    p.add_argument("--category-map", nargs="+", action="extend", metavar="RAW=CATEGORY", help="extra category labels")
    p.add_argument(
        "--max-reject-rate",
        type=float,
        default=DEFAULT_MAX_REJECT_RATE,
        help="exit with status 1 (after writing everything) when a larger share of rows is rejected",
    )
    p.add_argument("--workers", type=int, default=None, help="image-check processes (default: CPU count; 1: none)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def source_kwargs(args: argparse.Namespace) -> dict:
    """Keyword arguments for `prepare` / `export_sft` from `add_source_options`; bad label maps raise ValueError."""
    return {
        "embed_images": args.embed_images,
        "min_pixels": args.min_pixels,
        "max_pixels": args.max_pixels,
        "reward_map": schema.parse_label_map(args.reward_map, schema.REWARD_METHODS, "--reward-map"),
        "category_map": schema.parse_label_map(args.category_map, schema.CATEGORIES, "--category-map"),
        "workers": args.workers,
        "progress": not args.no_progress,
        "overwrite": args.overwrite,
        "max_reject_rate": args.max_reject_rate,
    }


def run_cli(parser: argparse.ArgumentParser, run, report) -> int:
    """The exit-status contract shared by prepare and SFT export (see the module docstring)."""
    try:
        with interruptible():
            summary = run()
    except Interrupted as stop:
        print(f"{parser.prog}: {stop}: stopped; no output was written", file=sys.stderr)
        return stop.exit_code
    except EmptyInputError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as err:
        if not getattr(err, "bad_argument", False):
            raise  # a failure of the run (status 1, with its traceback), not of the arguments
        parser.error(str(err))
    return report(summary)


def exit_status(rows_out: int, rejects_file: str, too_many_rejects: str | None) -> int:
    """A run's honest exit status (prep and the SFT export alike): 1, with the reason, when nothing usable came out
    or the reject share is over --max-reject-rate (the outputs are written either way)."""
    if rows_out == 0:
        print(f"error: no usable rows; see {rejects_file}", file=sys.stderr)
        return 1
    if too_many_rejects:
        print(f"error: {too_many_rejects}", file=sys.stderr)
        return 1
    return 0
