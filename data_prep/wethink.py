"""WeThink JSONL + image folder -> verl 0.9.1 multimodal parquet (train/val), rejects, stats.

    python -m data_prep.wethink --jsonl wethink.jsonl --image-root llava_cot_images --out data/wethink

Nothing is lost: every input line ends up in `train.parquet`, `val.parquet` or `rejects.jsonl` (with its
line number and reason), and `in = train + val + rejects` is checked and printed. Two streaming passes:
rows are checked in parallel and spooled to parquet while a seeded content hash picks the stratified val
set; the spool is then split into train and val. Memory does not grow with the number of rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping

from data_prep import schema
from data_prep.images import image_entry
from data_prep.parquet import RowWriter, iter_rows, rl_schema
from data_prep.rows import question_text, user_text
from data_prep.split import DEFAULT_VAL_MAX, ValSelector, row_key
from data_prep.stats import StatsCollector, write_stats
from data_prep.validate import Checked, CheckOptions, RejectsWriter, iter_checked


def rl_row(checked: Checked, min_pixels: int, max_pixels: int, split: str = "") -> dict:
    """One accepted row in verl's multimodal format (system prompt + user turn with one `<image>` per image)."""
    row = checked.row
    return {
        "data_source": schema.DATA_SOURCE,
        "prompt": [
            {"role": "system", "content": schema.SYSTEM_PROMPT},
            {"role": "user", "content": user_text(row.problem, len(row.image_paths))},
        ],
        "images": [image_entry(info, min_pixels, max_pixels) for info in checked.images],
        "ability": row.category,
        "reward_model": {"style": row.reward_method, "ground_truth": row.answer},
        "extra_info": {
            "index": checked.lineno,
            "split": split,
            "question": question_text(row.problem),
            "category": row.category,
            "abilities": list(row.abilities),
            "reward_method": row.reward_method,
            "image_path": list(row.image_paths),
        },
    }


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
) -> CheckOptions:
    """Validate a reader's inputs (files, pixel bounds, label maps) and build its row-check options."""
    if not os.path.isfile(jsonl):
        raise FileNotFoundError(f"--jsonl {jsonl!r} is not a file")
    if not os.path.isdir(image_root):
        raise FileNotFoundError(f"--image-root {image_root!r} is not a directory")
    check_pixel_bounds(min_pixels, max_pixels)
    return CheckOptions(
        image_root=os.path.abspath(image_root),
        keep_bytes=embed_images,
        reward_map=check_label_map(reward_map, schema.REWARD_METHODS, "reward_map"),
        category_map=check_label_map(category_map, schema.CATEGORIES, "category_map"),
        require_cot=require_cot,
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
) -> dict:
    """Write OUT/{train.parquet, val.parquet, rejects.jsonl, stats.json, stats.png}; return the summary.

    `val_size=None` takes 5% of the accepted rows (at most 1000); every category with two rows or more gets at
    least one val row. `embed_images` stores image bytes instead of absolute paths (no shared filesystem).
    """
    jsonl, image_root, out_dir = os.fspath(jsonl), os.fspath(image_root), os.fspath(out_dir)
    opts = reader_options(
        jsonl,
        image_root,
        embed_images=embed_images,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        reward_map=reward_map,
        category_map=category_map,
    )
    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, name) for name in ("train.parquet", "val.parquet", "rejects.jsonl")}
    spool = os.path.join(out_dir, f".spool-{os.getpid()}.parquet")
    table_schema = rl_schema(embed_images)
    stats = StatsCollector(min_pixels, max_pixels)
    selector = ValSelector(cap=DEFAULT_VAL_MAX if val_size is None else max(val_size, 0))
    started = time.perf_counter()
    n_in = 0
    try:
        # Pass 1: check every line; accepted rows go to the spool, rejects to their file.
        with RejectsWriter(paths["rejects.jsonl"]) as rejects, RowWriter(spool, table_schema) as spooled:
            for result in iter_checked(jsonl, opts, workers=workers, progress=progress):
                n_in += 1
                if not isinstance(result, Checked):
                    rejects.write(result)
                    stats.add_reject(result.reason, result.label)
                    continue
                spooled.write(rl_row(result, min_pixels, max_pixels), sum(len(i.data or b"") for i in result.images))
                selector.add(
                    result.row.category, row_key(seed, result.row.problem, result.row.image_paths), result.lineno
                )
                stats.add_row(result.row, result.images)
        # Pass 2: route the spooled rows by the stratified val selection.
        val_lines, quotas = selector.select(val_size)
        with (
            RowWriter(paths["train.parquet"], table_schema) as train,
            RowWriter(paths["val.parquet"], table_schema) as val,
        ):
            for row in iter_rows(spool):
                split = "val" if row["extra_info"]["index"] in val_lines else "train"
                row["extra_info"]["split"] = split
                (val if split == "val" else train).write(row, sum(len(i.get("bytes") or b"") for i in row["images"]))
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
        "unknown_labels": stats_dict["unknown_labels"],
        "val_per_category": {c: q for c, q in quotas.items() if q},
        "categories_missing_from_val": sorted(c for c, q in quotas.items() if not q) if val.count else [],
        "seed": seed,
        "embed_images": embed_images,
        "min_pixels": min_pixels,
        "max_pixels": max_pixels,
        "seconds": round(seconds, 2),
        "rows_per_s": round(n_in / seconds, 1) if seconds > 0 else None,
        "files": {
            **paths,
            "stats.json": os.path.join(out_dir, "stats.json"),
            "stats.png": os.path.join(out_dir, "stats.png"),
        },
    }
    write_stats({"summary": summary, **stats_dict}, summary["files"]["stats.json"], summary["files"]["stats.png"])
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
    lines.append(f"  outputs: {os.path.dirname(summary['files']['train.parquet']) or '.'}")
    return "\n".join(lines)


def add_source_options(p: argparse.ArgumentParser, out_help: str) -> None:
    """The options every WeThink JSONL reader takes (prepare and SFT export parse rows the same way)."""
    p.add_argument(
        "--jsonl",
        required=True,
        help="WeThink JSONL (problem, answer, category, abilities, refined_cot, image_path, reward)",
    )
    p.add_argument("--image-root", required=True, help="folder that image_path values are relative to")
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--embed-images", action="store_true", help="store image bytes instead of absolute paths")
    p.add_argument("--min-pixels", type=int, default=schema.DEFAULT_MIN_PIXELS)
    p.add_argument("--max-pixels", type=int, default=schema.DEFAULT_MAX_PIXELS)
    p.add_argument("--reward-map", nargs="+", action="extend", metavar="RAW=rule|model", help="extra reward labels")
    p.add_argument("--category-map", nargs="+", action="extend", metavar="RAW=CATEGORY", help="extra category labels")
    p.add_argument("--workers", type=int, default=None, help="image-check processes (default: CPU count; 1: none)")
    p.add_argument("--no-progress", action="store_true")


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
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wethink-prepare", description=__doc__.split("\n\n")[0])
    add_source_options(p, out_help="output folder")
    p.add_argument("--val-size", type=int, default=None, help="val rows (default: 5%% of accepted rows, at most 1000)")
    p.add_argument("--seed", type=int, default=42)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        summary = prepare(
            args.jsonl, args.image_root, args.out, val_size=args.val_size, seed=args.seed, **source_kwargs(args)
        )
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    print(format_summary(summary))
    if summary["train"] + summary["val"] == 0:
        print(f"error: no usable rows; see {summary['files']['rejects.jsonl']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
