"""Benchmark of `data_prep.wethink.prepare` (a script, not a test): rows/s and peak memory versus input size.

For each size, synthetic WeThink rows (the bundled sample's rows with numbered questions, so every row is
distinct; images referenced from the sample's handful of small PNGs, every row's image checked) are
prepared in a fresh child process, whose peak RSS is read with `resource.getrusage`: the main process and,
separately, the largest image-check worker. The baseline in the same run is the smallest size: flat memory
means a peak-RSS ratio near 1.0 at 100x the rows. For contrast, a naive in-memory conversion (all rows in a
list, one `pa.Table.from_pylist`, no image checks) runs on the same inputs. Each child also reports whether
torch got imported (prep needs none; importing it costs ~0.5 GB of RSS per process).

Usage: python benchmarks/bench_prepare.py [--sizes 1000 10000 100000] [--workers N] [--embed-images] [--no-naive]
       [--tokenizer DIR]   (count text tokens with a local tokenizer, e.g. `recipes.cpu.tiny_model`'s)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

SAMPLE = REPO / "examples" / "sample"


COLUMNS = (
    ("mode", 10),
    ("rows", 9),
    ("seconds", 9),
    ("rows/s", 8),
    ("peak RSS main MB", 18),
    ("x base", 8),
    ("peak RSS worker MB", 20),
    ("x base", 8),
    ("torch", 7),
)


def _table_row(values) -> str:
    cells = [str(v) for v in values]
    return f"{cells[0]:<{COLUMNS[0][1]}}" + "".join(
        f"{c:>{w}}" for c, (_, w) in zip(cells[1:], COLUMNS[1:], strict=True)
    )


def make_input(n_rows: int, path: Path) -> None:
    """`n_rows` distinct rows cycling through the sample's rows and images."""
    base = [json.loads(x) for x in (SAMPLE / "wethink_sample.jsonl").read_text(encoding="utf-8").splitlines()]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n_rows):
            row = dict(base[i % len(base)])
            row["problem"] = f"{row['problem']} (item {i})"
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def run_child(args: argparse.Namespace) -> None:
    """Inside the child: one conversion, then one JSON line of figures on stdout."""
    started = time.perf_counter()
    if args.child == "streaming":
        from data_prep.wethink import prepare

        extra = {"tokenizer": args.tokenizer} if args.tokenizer else {}
        summary = prepare(
            args.jsonl,
            args.image_root,
            args.out,
            embed_images=args.embed_images,
            workers=args.workers,
            progress=False,
            **extra,
        )
        rows = summary["in"]
        assert summary["in"] == summary["train"] + summary["val"] + summary["rejects"]
    else:
        rows = naive_convert(args.jsonl, args.image_root, args.out, args.embed_images)
    seconds = time.perf_counter() - started
    figures = {
        "rows": rows,
        "seconds": seconds,
        "main_mb": _peak_mb(resource.RUSAGE_SELF),
        "worker_mb": _peak_mb(resource.RUSAGE_CHILDREN),
        "torch": "torch" in sys.modules,
    }
    print(json.dumps(figures))


def naive_convert(jsonl: str, image_root: str, out_dir: str, embed: bool) -> int:
    """The obvious approach: read every row, build every output row in memory, write one table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from data_prep.images import ImageInfo
    from data_prep.parquet import rl_schema
    from data_prep.rows import decode_line, parse_row
    from data_prep.validate import Checked
    from data_prep.wethink import rl_row

    out_rows = []
    with open(jsonl, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            row = parse_row(decode_line(raw))
            images = tuple(
                ImageInfo(p, os.path.join(image_root, p), 0, 0, Path(image_root, p).read_bytes() if embed else None)
                for p in row.image_paths
            )
            out_rows.append(rl_row(Checked(lineno, row, images), 3136, 1003520, "train"))
    pq.write_table(pa.Table.from_pylist(out_rows, schema=rl_schema(embed)), os.path.join(out_dir, "train.parquet"))
    return len(out_rows)


def measure(mode: str, jsonl: Path, out: Path, args: argparse.Namespace) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--jsonl",
        str(jsonl),
        "--image-root",
        str(SAMPLE / "images"),
        "--out",
        str(out),
        "--workers",
        str(args.workers),
    ]
    if args.embed_images:
        cmd.append("--embed-images")
    if args.tokenizer:
        cmd += ["--tokenizer", args.tokenizer]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--embed-images", action="store_true")
    p.add_argument("--no-naive", action="store_true", help="skip the in-memory baseline")
    p.add_argument("--tokenizer", help="local tokenizer directory: prepare counts text tokens with it")
    p.add_argument("--child", choices=["streaming", "naive"], help=argparse.SUPPRESS)
    p.add_argument("--jsonl", help=argparse.SUPPRESS)
    p.add_argument("--image-root", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        run_child(args)
        return 0

    modes = ["streaming"] + ([] if args.no_naive else ["naive"])
    print(
        f"prepare benchmark: workers={args.workers} embed_images={args.embed_images} tokenizer={bool(args.tokenizer)}"
        f" cpus={os.cpu_count()}"
    )
    print(_table_row(name for name, _ in COLUMNS))
    print("-" * sum(width for _, width in COLUMNS))
    with tempfile.TemporaryDirectory(prefix="bench_prepare_") as tmp:
        for mode in modes:
            base = None
            for n in sorted(args.sizes):
                jsonl = Path(tmp, f"rows_{n}.jsonl")
                if not jsonl.exists():
                    make_input(n, jsonl)
                f = measure(mode, jsonl, Path(tmp, f"out_{mode}_{n}"), args)
                base = base or f
                has_workers = mode == "streaming" and args.workers > 1
                print(
                    _table_row(
                        [
                            mode,
                            f["rows"],
                            f"{f['seconds']:.1f}",
                            f"{f['rows'] / f['seconds']:.0f}",
                            f"{f['main_mb']:.0f}",
                            f"{f['main_mb'] / base['main_mb']:.2f}",
                            f"{f['worker_mb']:.0f}" if has_workers else "-",
                            f"{f['worker_mb'] / base['worker_mb']:.2f}" if has_workers else "-",
                            "yes" if f["torch"] else "no",
                        ]
                    ),
                    flush=True,
                )
    print("x base: peak RSS relative to the smallest size of the same mode (1.00 = flat).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
