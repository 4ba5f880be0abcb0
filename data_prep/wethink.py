"""WeThink JSONL + image folder -> verl 0.9.1 multimodal parquet (train/val), rejects, stats.

    python -m data_prep.wethink --jsonl wethink.jsonl --image-root llava_cot_images --out data/wethink

Nothing is lost: every input line ends up in `train.parquet`, `val.parquet` or `rejects.jsonl` (with its
line number and reason), and `in = train + val + rejects` is checked and printed. Two streaming passes:
rows are checked in parallel and spooled to parquet while a seeded content hash picks the stratified val
set; the spool is then split into train and val. Memory does not grow with the number of rows.

Exit status: 0 done; 1 done but the reject share is over --max-reject-rate, or no usable rows, or an empty
input; 2 bad arguments (a non-empty --out without --overwrite included), and only those; 130 / 143 interrupted by
SIGINT / SIGTERM (nothing written: outputs only appear, `train.parquet` last, when the run completes). No input
line can stop a run, whatever its bytes: a line that cannot be used is a reject with its reason.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from contextlib import closing

from data_prep import schema, source
from data_prep.cli_help import HelpFormatter
from data_prep.images import image_entry
from data_prep.outputs import OutputFiles, raise_if_interrupted, refuse_non_empty_dir
from data_prep.parquet import RowWriter, iter_rows, rl_schema
from data_prep.rows import rl_prompt
from data_prep.split import DEFAULT_VAL_MAX, ValSelector, row_key
from data_prep.stats import StatsCollector, write_stats
from data_prep.validate import Checked, RejectsWriter, count_lines, iter_checked
from rewards import row as contract

EMBED_WARN_ROWS = 5000  # above this, embedded image bytes multiply through verl's reward path (issue #7391)
OUTPUTS = ("train.parquet", "val.parquet", "rejects.jsonl", "stats.json", "stats.png")


def rl_row(checked: Checked, min_pixels: int, max_pixels: int, split: str = "") -> dict:
    """One accepted row in verl's multimodal format (system prompt + user turn with one `<image>` per image)."""
    row = checked.row
    return {
        "data_source": schema.DATA_SOURCE,
        "prompt": rl_prompt(row.problem, len(row.image_paths)),
        "images": [image_entry(info, min_pixels, max_pixels) for info in checked.images],
        "ability": row.category,
        "reward_model": {"style": row.reward_method, "ground_truth": row.answer},
        "extra_info": {  # the row contract: rewards/row.py
            contract.INDEX: checked.lineno,
            contract.SPLIT: split,
            contract.QUESTION: contract.question_text(row.problem),
            contract.CATEGORY: row.category,
            contract.ABILITIES: list(row.abilities),
            contract.REWARD_METHOD: row.reward_method,
            contract.IMAGE_PATH: list(row.image_paths),
        },
    }


def embed_images_warning(n_rows: int) -> str | None:
    """The --embed-images warning for a large input (None below EMBED_WARN_ROWS rows)."""
    if n_rows <= EMBED_WARN_ROWS:
        return None
    return (
        f"--embed-images with {n_rows} rows: verl 0.9.1 carries every decoded image into each reward call and "
        "TransferQueue field (verl issue #7391), which at this scale needs host memory in the hundreds of GB. "
        "Prefer path references (leave out --embed-images) with the images on a shared filesystem that every "
        "node mounts at the same path."
    )


def prepare(
    jsonl: str | os.PathLike,
    image_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    val_size: int | None = None,
    seed: int = 42,
    embed_images: bool = False,
    min_pixels: int = schema.DEFAULT_MIN_PIXELS,
    max_pixels: int = schema.DEFAULT_MAX_PIXELS,
    reward_map: Mapping[str, str] | None = None,
    category_map: Mapping[str, str] | None = None,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    max_reject_rate: float = source.DEFAULT_MAX_REJECT_RATE,
    max_prompt_tokens: int | None = schema.DEFAULT_MAX_PROMPT_TOKENS,
    tokenizer: str | os.PathLike | None = None,
) -> dict:
    """Write OUT/{train.parquet, val.parquet, rejects.jsonl, stats.json, stats.png}; return the summary.

    `val_size=None` takes 5% of the accepted rows (at most 1000); every category with two rows or more gets at
    least one val row. `embed_images` stores image bytes instead of absolute paths (no shared filesystem).
    A non-empty `out_dir` is refused unless `overwrite`. Rows whose prompt (text tokens with `tokenizer`, a
    local model directory, plus visual tokens) exceeds `max_prompt_tokens` are rejects. The summary's
    `too_many_rejects` says (or is None) whether rejects exceed `max_reject_rate`; outputs are written anyway.
    """
    jsonl, image_root, out_dir = os.fspath(jsonl), os.fspath(image_root), os.fspath(out_dir)
    with source.argument_checks():
        source.check_reject_rate(max_reject_rate)
        opts = source.reader_options(
            jsonl,
            image_root,
            embed_images=embed_images,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            reward_map=reward_map,
            category_map=category_map,
            measure_prompt=True,
            tokenizer=os.fspath(tokenizer) if tokenizer else None,
            max_prompt_tokens=max_prompt_tokens,
        )
        refuse_non_empty_dir(out_dir, overwrite)
    n_lines = count_lines(jsonl)
    warnings = [w for w in [embed_images_warning(n_lines) if embed_images else None] if w]
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, name) for name in OUTPUTS}
    outputs = OutputFiles(list(paths.values()), last=paths["train.parquet"])
    temp = {name: outputs.temp(path) for name, path in paths.items()}
    spool = os.path.join(out_dir, f".spool-{os.getpid()}.parquet")
    table_schema = rl_schema(embed_images)
    stats = StatsCollector(min_pixels, max_pixels, max_prompt_tokens, text_counted=opts.tokenizer is not None)
    selector = ValSelector(cap=DEFAULT_VAL_MAX if val_size is None else max(val_size, 0))
    started = time.perf_counter()
    n_in = 0
    with outputs:
        try:
            # Pass 1: check every line; accepted rows go to the spool, rejects to their file.
            checked = iter_checked(jsonl, opts, workers=workers, progress=progress, total=n_lines)
            with (
                closing(checked),  # stops the workers at once if anything below raises
                RejectsWriter(temp["rejects.jsonl"]) as rejects,
                RowWriter(spool, table_schema) as spooled,
            ):
                for result in checked:
                    raise_if_interrupted()
                    n_in += 1
                    if not isinstance(result, Checked):
                        rejects.write(result)
                        stats.add_reject(result.reason, result.label)
                        continue
                    spooled.write(
                        rl_row(result, min_pixels, max_pixels), sum(len(i.data or b"") for i in result.images)
                    )
                    selector.add(
                        result.row.category, row_key(seed, result.row.problem, result.row.image_paths), result.lineno
                    )
                    stats.add_row(result.row, result.images, result.prompt)
            # Pass 2: route the spooled rows by the stratified val selection.
            val_lines, quotas = selector.select(val_size)
            with (
                RowWriter(temp["train.parquet"], table_schema) as train,
                RowWriter(temp["val.parquet"], table_schema) as val,
            ):
                for row in iter_rows(spool):
                    raise_if_interrupted()
                    split = "val" if row["extra_info"][contract.INDEX] in val_lines else "train"
                    row["extra_info"][contract.SPLIT] = split
                    nbytes = sum(len(i.get("bytes") or b"") for i in row["images"])
                    (val if split == "val" else train).write(row, nbytes)
                    stats.add_split(split, row["ability"])
        finally:
            if os.path.exists(spool):
                os.remove(spool)
        seconds = time.perf_counter() - started
        if n_in != train.count + val.count + rejects.count:
            raise RuntimeError(
                f"row accounting broken: in={n_in} train={train.count} val={val.count} rejects={rejects.count}"
            )
        stats_dict = stats.to_dict()
        summary = {
            "in": n_in,
            "train": train.count,
            "val": val.count,
            "rejects": rejects.count,
            "reject_reasons": stats_dict["rejects"],
            "reject_rate": round(rejects.count / n_in, 4),
            "max_reject_rate": max_reject_rate,
            "too_many_rejects": source.reject_verdict(n_in, stats_dict["rejects"], max_reject_rate),
            "unknown_labels": stats_dict["unknown_labels"],
            "val_per_category": {c: q for c, q in quotas.items() if q},
            "categories_missing_from_val": sorted(c for c, q in quotas.items() if not q) if val.count else [],
            "seed": seed,
            "embed_images": embed_images,
            "min_pixels": min_pixels,
            "max_pixels": max_pixels,
            "max_prompt_tokens": max_prompt_tokens,
            "prompt_tokens": stats_dict["prompt_tokens"],
            "warnings": warnings,
            "seconds": round(seconds, 2),
            "rows_per_s": round(n_in / seconds, 1) if seconds > 0 else None,
            "files": paths,
        }
        write_stats({"summary": summary, **stats_dict}, temp["stats.json"], temp["stats.png"])
        outputs.commit()
    return summary


def format_summary(summary: dict) -> str:
    lines = [
        f"in={summary['in']} = train {summary['train']} + val {summary['val']} + rejects {summary['rejects']}"
        f"  ({summary['rows_per_s']} rows/s)"
    ]
    for reason, count in summary["reject_reasons"].items():
        lines.append(f"  rejected {count:>7}  {reason}")
    option = {"category": "--category-map", "reward": "--reward-map"}
    for field, values in summary["unknown_labels"].items():
        for raw, count in values.items():
            lines.append(f"  unknown {field} {raw!r} on {count} row(s): add {option[field]} '{raw}=...'")
    if summary["categories_missing_from_val"]:
        lines.append(
            f"  val lacks categories with fewer than 2 rows: {', '.join(summary['categories_missing_from_val'])}"
        )
    tokens = summary["prompt_tokens"]
    if tokens.get("n"):
        counted = "text + visual" if tokens["text_counted"] else "visual only: pass --tokenizer to count text"
        lines.append(
            f"  prompt tokens ({counted}): p50 {tokens['p50']}, p95 {tokens['p95']}, max {tokens['max']}"
            f" (--max-prompt-tokens {summary['max_prompt_tokens'] or 'none'})"
        )
    lines.append(f"  outputs: {os.path.dirname(summary['files']['train.parquet']) or '.'}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wethink-prepare",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n")[-1],
        formatter_class=HelpFormatter,
    )
    source.add_source_options(p, out_help="output folder (empty or new, unless --overwrite)")
    p.add_argument(
        "--max-prompt-tokens",
        type=int,
        default=schema.DEFAULT_MAX_PROMPT_TOKENS,
        help="reject rows whose prompt is longer (the recipe's data.max_prompt_length; 0: no limit)",
    )
    p.add_argument(
        "--tokenizer",
        metavar="DIR",
        help="local model/tokenizer directory: count the prompt's text tokens too (else visual tokens only)",
    )
    p.add_argument("--val-size", type=int, default=None, help="val rows (default: 5%% of accepted rows, at most 1000)")
    p.add_argument("--seed", type=int, default=42, help="seed of the train/val split")
    return p


def report(summary: dict) -> int:
    print(format_summary(summary))
    rows_out, rejects = summary["train"] + summary["val"], summary["files"]["rejects.jsonl"]
    return source.exit_status(rows_out, rejects, summary["too_many_rejects"])


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    def run() -> dict:
        with source.argument_checks():
            options = source.source_kwargs(args)
        return prepare(
            args.jsonl,
            args.image_root,
            args.out,
            val_size=args.val_size,
            seed=args.seed,
            max_prompt_tokens=args.max_prompt_tokens,
            tokenizer=args.tokenizer,
            **options,
        )

    return source.run_cli(parser, run, report)


if __name__ == "__main__":
    sys.exit(main())
