"""Cold-start SFT export of the WeThink set: LLaMA-Factory sharegpt JSON or verl's multiturn SFT parquet.

    python -m data_prep.sft --jsonl wethink.jsonl --image-root images --out sft.json --format llamafactory
    python -m data_prep.sft --jsonl wethink.jsonl --image-root images --out sft.parquet --format verl

Rows go through the same parser and image checks as the RL prep (`data_prep.validate`), plus one rule:
`refined_cot` must hold reasoning text. Rejects land in `<out>.rejects.jsonl`. The target is
`<think>refined_cot</think><answer>answer</answer>`, with any think / answer tags already inside
`refined_cot` removed first so they are never doubled.

The format follows the --out extension (.json: llamafactory, .parquet: verl) unless --format says otherwise;
a --format that contradicts the extension is an error. Exit status as for `data_prep.source`: 0 done; 1 the
reject share is over --max-reject-rate, no usable rows or an empty input; 2 bad arguments (an existing --out
without --overwrite included); 130 / 143 interrupted (both files only appear, the output last, when complete).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from contextlib import closing

from data_prep import schema
from data_prep.cli_help import HelpFormatter
from data_prep.images import image_entry
from data_prep.outputs import OutputFiles, raise_if_interrupted, refuse_existing
from data_prep.parquet import RowWriter, sft_schema
from data_prep.rows import bare_cot, user_text
from data_prep.validate import Checked, RejectsWriter, iter_checked
from data_prep.source import (
    DEFAULT_MAX_REJECT_RATE,
    add_source_options,
    argument_checks,
    check_reject_rate,
    exit_status,
    reader_options,
    reject_verdict,
    run_cli,
    source_kwargs,
)

FORMATS = ("llamafactory", "verl")
FORMAT_OF_EXTENSION = {".json": "llamafactory", ".parquet": "verl"}


def output_format(out: str, fmt: str | None) -> str:
    """The export format: `fmt` if given, else the one `out`'s extension names; a contradiction is an error."""
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    ext = os.path.splitext(out)[1].lower()
    implied = FORMAT_OF_EXTENSION.get(ext)
    if fmt is None and implied is None:
        known = ", ".join(f"{e} for {f}" for e, f in FORMAT_OF_EXTENSION.items())
        raise ValueError(
            f"--out {out!r}: cannot tell the format from {ext or 'no extension'!r} ({known}); pass --format"
        )
    if fmt is not None and implied is not None and fmt != implied:
        raise ValueError(f"--format {fmt} contradicts --out {out!r}, whose extension {ext} means --format {implied}")
    return fmt or implied


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
        self.path = path
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
    fmt: str | None = None,
    embed_images: bool = False,
    min_pixels: int = schema.DEFAULT_MIN_PIXELS,
    max_pixels: int = schema.DEFAULT_MAX_PIXELS,
    reward_map: dict | None = None,
    category_map: dict | None = None,
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE,
) -> dict:
    """Write the SFT file and `<out>.rejects.jsonl`; return counts `in`, `out`, `rejects` and reasons.

    `fmt=None` takes the format from the extension of `out`. Existing files are refused unless `overwrite`.
    """
    jsonl, image_root, out = os.fspath(jsonl), os.fspath(image_root), os.fspath(out)
    rejects_path = os.path.splitext(out)[0] + ".rejects.jsonl"
    with argument_checks():
        fmt = output_format(out, fmt)
        check_reject_rate(max_reject_rate)
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
        refuse_existing([out, rejects_path], "--out", overwrite)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    reasons: dict[str, int] = {}
    n_in = 0
    with OutputFiles([out, rejects_path], last=out) as outputs:
        tmp_out = outputs.temp(out)
        writer = RowWriter(tmp_out, sft_schema(embed_images)) if fmt == "verl" else _JsonArrayWriter(tmp_out)
        checked = iter_checked(jsonl, opts, workers=workers, progress=progress)
        with closing(checked), RejectsWriter(outputs.temp(rejects_path)) as rejects, writer:
            for result in checked:
                raise_if_interrupted()
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
        outputs.commit()
    summary = {
        "in": n_in,
        "out": writer.count,
        "rejects": rejects.count,
        "reject_reasons": reasons,
        "reject_rate": round(rejects.count / n_in, 4),
        "max_reject_rate": max_reject_rate,
        "too_many_rejects": reject_verdict(n_in, reasons, max_reject_rate),
        "format": fmt,
        "files": {"out": out, "rejects": rejects_path},
    }
    if fmt == "llamafactory":
        summary["llamafactory_dataset_info"] = llamafactory_dataset_info(out)
    return summary


def report(summary: dict) -> int:
    print(f"in={summary['in']} = out {summary['out']} + rejects {summary['rejects']}  -> {summary['files']['out']}")
    for reason, count in summary["reject_reasons"].items():
        print(f"  rejected {count:>7}  {reason}")
    if "llamafactory_dataset_info" in summary:
        print("LLaMA-Factory dataset_info.json entry:\n" + json.dumps(summary["llamafactory_dataset_info"], indent=2))
    return exit_status(summary["out"], summary["files"]["rejects"], summary["too_many_rejects"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="wethink-sft",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n")[-1],
        formatter_class=HelpFormatter,
    )
    add_source_options(parser, out_help="output file: .json (llamafactory) or .parquet (verl)")
    parser.add_argument(
        "--format", choices=FORMATS, default=None, help="export format (default: from the --out extension)"
    )
    args = parser.parse_args(argv)

    def run() -> dict:
        with argument_checks():
            options = source_kwargs(args)
        return export_sft(args.jsonl, args.image_root, args.out, fmt=args.format, **options)

    return run_cli(parser, run, report)


if __name__ == "__main__":
    sys.exit(main())
