"""Cold-start SFT export of the WeThink set: LLaMA-Factory sharegpt JSON or verl's multiturn SFT parquet.

    python -m data_prep.sft --jsonl wethink.jsonl --image-root images --out sft.json --format llamafactory
    python -m data_prep.sft --jsonl wethink.jsonl --image-root images --out sft.parquet --format verl

Rows go through the same parser and image checks as the RL prep (`data_prep.validate`), plus one rule:
`refined_cot` must hold reasoning text. Rejects land in `<out>.rejects.jsonl`. The target is
`<think>refined_cot</think><answer>answer</answer>`, with any think / answer tags already inside
`refined_cot` removed first so they are never doubled.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from data_prep import schema
from data_prep.images import image_entry
from data_prep.parquet import RowWriter, sft_schema
from data_prep.rows import bare_cot, user_text
from data_prep.validate import Checked, RejectsWriter, iter_checked
from data_prep.wethink import add_source_options, reader_options, source_kwargs

FORMATS = ("llamafactory", "verl")


def response_text(refined_cot: str, answer: str) -> str:
    """`<think>cot</think><answer>answer</answer>`: tags already inside `refined_cot` are unwrapped, never
    nested, and its own answer block (if any) gives way to the row's `answer`, which is the label."""
    return f"<think>{bare_cot(refined_cot)}</think><answer>{answer}</answer>"


def sharegpt_record(checked: Checked) -> dict:
    """LLaMA-Factory sharegpt: system / human (with `<image>`) / gpt, images as absolute paths."""
    row = checked.row
    return {
        "conversations": [
            {"from": "human", "value": user_text(row.problem, len(checked.images))},
            {"from": "gpt", "value": response_text(row.refined_cot, row.answer)},
        ],
        "system": schema.SYSTEM_PROMPT,
        "images": [info.abs_path for info in checked.images],
    }


def verl_sft_row(checked: Checked, min_pixels: int, max_pixels: int) -> dict:
    """verl 0.9.1 MultiTurnSFTDataset row: `messages` (with `<image>` placeholders) and `images`."""
    row = checked.row
    return {
        "messages": [
            {"role": "system", "content": schema.SYSTEM_PROMPT},
            {"role": "user", "content": user_text(row.problem, len(checked.images))},
            {"role": "assistant", "content": response_text(row.refined_cot, row.answer)},
        ],
        "images": [image_entry(info, min_pixels, max_pixels) for info in checked.images],
    }


def llamafactory_dataset_info(out_path: str) -> dict:
    """The `dataset_info.json` entry LLaMA-Factory needs to read the exported file."""
    name = os.path.splitext(os.path.basename(out_path))[0]
    return {
        name: {
            "file_name": os.path.basename(out_path),
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system", "images": "images"},
        }
    }


class _JsonArrayWriter:
    """A JSON array written one record at a time (LLaMA-Factory reads `.json` arrays)."""

    def __init__(self, path: str):
        self._fh, self.count = open(path, "w", encoding="utf-8"), 0
        self._fh.write("[")

    def write(self, record: dict, nbytes: int = 0) -> None:
        self._fh.write(("\n" if self.count == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
        self.count += 1

    def close(self) -> None:
        self._fh.write("\n]\n")
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def export_sft(
    jsonl: str | os.PathLike,
    image_root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    fmt: str = "llamafactory",
    embed_images: bool = False,
    min_pixels: int = schema.DEFAULT_MIN_PIXELS,
    max_pixels: int = schema.DEFAULT_MAX_PIXELS,
    reward_map: dict | None = None,
    category_map: dict | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> dict:
    """Write the SFT file and `<out>.rejects.jsonl`; return counts `in`, `out`, `rejects` and reasons."""
    jsonl, image_root, out = os.fspath(jsonl), os.fspath(image_root), os.fspath(out)
    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if embed_images and fmt != "verl":
        raise ValueError("--embed-images applies to --format verl only (LLaMA-Factory reads image paths)")
    opts = reader_options(
        jsonl,
        image_root,
        embed_images=embed_images,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        reward_map=reward_map,
        category_map=category_map,
        require_cot=True,
    )
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    rejects_path = os.path.splitext(out)[0] + ".rejects.jsonl"
    writer = RowWriter(out, sft_schema(embed_images)) if fmt == "verl" else _JsonArrayWriter(out)
    reasons: dict[str, int] = {}
    n_in = 0
    with RejectsWriter(rejects_path) as rejects, writer:
        for result in iter_checked(jsonl, opts, workers=workers, progress=progress):
            n_in += 1
            if not isinstance(result, Checked):
                rejects.write(result)
                reasons[result.reason] = reasons.get(result.reason, 0) + 1
                continue
            if fmt == "verl":
                writer.write(
                    verl_sft_row(result, min_pixels, max_pixels), sum(len(i.data or b"") for i in result.images)
                )
            else:
                writer.write(sharegpt_record(result))
    if n_in != writer.count + rejects.count:
        raise RuntimeError(f"row accounting broken: in={n_in} out={writer.count} rejects={rejects.count}")
    summary = {
        "in": n_in,
        "out": writer.count,
        "rejects": rejects.count,
        "reject_reasons": reasons,
        "format": fmt,
        "files": {"out": out, "rejects": rejects_path},
    }
    if fmt == "llamafactory":
        summary["llamafactory_dataset_info"] = llamafactory_dataset_info(out)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wethink-sft", description=__doc__.split("\n\n")[0])
    add_source_options(parser, out_help="output file (.json for llamafactory, .parquet for verl)")
    parser.add_argument("--format", choices=FORMATS, default="llamafactory")
    args = parser.parse_args(argv)
    try:
        summary = export_sft(args.jsonl, args.image_root, args.out, fmt=args.format, **source_kwargs(args))
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    print(f"in={summary['in']} = out {summary['out']} + rejects {summary['rejects']}  -> {summary['files']['out']}")
    for reason, count in summary["reject_reasons"].items():
        print(f"  rejected {count:>7}  {reason}")
    if "llamafactory_dataset_info" in summary:
        print("LLaMA-Factory dataset_info.json entry:\n" + json.dumps(summary["llamafactory_dataset_info"], indent=2))
    return 0 if summary["out"] else 1


if __name__ == "__main__":
    sys.exit(main())
