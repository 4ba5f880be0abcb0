"""Put one model's VLMEvalKit scores next to Qwen2.5-VL-7B's and WeThink-VL-7B's leaderboard numbers: table and chart.

Reads the result files VLMEvalKit's evaluation wrote for the model (vlmeval_benchmarks.py says which file
and which cell of it holds each benchmark's leaderboard number) and the reference numbers from
paper_scores.csv (where they come from: REFERENCE_SOURCE, printed under the table), and writes summary.md (the
table, also printed) and summary.png (grouped bars). A
benchmark without a scored result is shown as missing, never as 0, and averages say how many benchmarks
they cover. MMBench's leaderboard splits have no public answers: VLMEvalKit only writes predictions for
them, which the MMBench server scores; give the server's numbers with --score.

    python examples/eval/summarize.py outputs/vlmeval/WeThink-verl-7B
    python examples/eval/summarize.py RUN_DIR --score MMBench_TEST_EN_V11=83.1 --score MMBench_TEST_CN_V11=80.9

RUN_DIR is VLMEvalKit's {work_dir}/{model} (or one of its T... run folders). Exit status: 0 written, 1 no
result for the model in RUN_DIR, 2 bad input (a result file or score that cannot be read, named).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from vlmeval_benchmarks import BENCHMARKS, BY_NAME, Benchmark, Metric

PAPER_SCORES = Path(__file__).resolve().with_name("paper_scores.csv")
# Where paper_scores.csv's numbers come from: every cell equals the two leaderboards' rows in these screenshots.
REFERENCE_SOURCE = (
    "Reference columns: the OpenCompass Multi-modal Academic and Reasoning leaderboards as updated 2025-05-30 "
    "(WeThink-Qwen2.5VL-7B evaluated 2025-05-26), as the WeThink README shows them (yangjie-cv/WeThink "
    "assets/academic_leaderborad_highlight.png, assets/reasoning_leaderboard_highlight.png); not the paper's own "
    "tables. These are the 13 benchmarks of those leaderboards; the paper's abstract counts 14. Judged benchmarks "
    "compare only under the same judge model: VLMEvalKit picks one per benchmark unless run.py gets --judge, and its "
    "defaults change between versions (file names carry the judge). MMBench compares only as the mean of the "
    "MMBench server's TEST_EN_V11 and TEST_CN_V11 scores."
)
PREDICTION_SUFFIXES = (".xlsx", ".tsv", ".json")  # VLMEvalKit's PRED_FORMAT choices
EVAL_RUN_DIR = re.compile(r"^T\d{8}(-\d{6}|_G[0-9a-f]+)$")  # VLMEvalKit's per-run folders under {work_dir}/{model}


class InputError(ValueError):
    """A file or argument that cannot be read; the message names it."""


@dataclass(frozen=True)
class Score:
    value: float | None  # None: missing
    source: str  # the file(s) it came from, or why it is missing


# ---------------------------------------------------------------- reading VLMEvalKit's files


def modified(path: Path) -> float:
    try:
        return path.stat().st_mtime  # through VLMEvalKit's symlinks to its newest run
    except OSError:
        return -1.0  # a dangling link sorts first; reading it later names it


def result_file(run_dir: Path, model: str, metric: Metric, names: list[str]) -> tuple[Path | None, str]:
    """The result file for `metric` among `names` (the run dir's listing); with several judges, the newest."""
    head = f"{model}_{metric.dataset}_"
    if metric.judged:  # a judge name has no "_" (but exact_matching): a longer dataset name cannot pass for one
        pattern = re.compile(re.escape(head) + r"(?:exact_matching|[^_]+)_" + re.escape(metric.suffix) + "$")
        found = sorted((n for n in names if pattern.match(n)), key=lambda n: modified(run_dir / n))
    else:
        found = [n for n in names if n == head + metric.suffix]
    if not found:
        return None, ""
    note = f" (newest of {len(found)} judges)" if len(found) > 1 else ""
    return run_dir / found[-1], note


def parse_number(text: object, where: str) -> float:
    try:
        return float(str(text).strip().removesuffix("%"))
    except ValueError:
        raise InputError(f"{where}: {text!r} is not a number") from None


def read_metric(path: Path, metric: Metric) -> float:
    """The leaderboard's number from one VLMEvalKit result file (the mean of `metric.columns`, scaled)."""
    try:
        if path.suffix == ".json":
            rows = [json.loads(path.read_text(encoding="utf-8"))]
        else:
            with path.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read it ({exc})") from None
    if not all(isinstance(row, dict) for row in rows):
        raise InputError(f"{path}: expected a JSON object")
    if metric.row is not None:
        key, wanted = metric.row
        if rows and key not in rows[0]:
            raise InputError(f"{path}: no column {key!r} (columns: {list(rows[0])})")
        seen = [row.get(key) for row in rows]
        rows = [row for row in rows if row.get(key) == wanted]
        if len(rows) != 1:
            raise InputError(f"{path}: expected one row with {key} == {wanted!r}, found {len(rows)} (values: {seen})")
    elif len(rows) != 1:
        raise InputError(f"{path}: expected one row of results, found {len(rows)}")
    row = rows[0]
    values = []
    for column in metric.columns:
        if column not in row:
            raise InputError(f"{path}: no column {column!r} (columns: {list(row)})")
        values.append(parse_number(row[column], f"{path}: column {column!r}"))
    return sum(values) / len(values) * metric.scale


def benchmark_score(
    run_dir: Path, model: str, benchmark: Benchmark, names: list[str], given: dict[str, float]
) -> Score:
    values, sources, missing = [], [], []
    for metric in benchmark.metrics:
        if metric.dataset in given:
            values.append(given[metric.dataset])
            sources.append(f"--score {metric.dataset}")
            continue
        path, note = result_file(run_dir, model, metric, names)
        if path is not None:
            values.append(read_metric(path, metric))
            sources.append(path.name + note)
        elif any(f"{model}_{metric.dataset}{suffix}" in names for suffix in PREDICTION_SUFFIXES):
            missing.append(f"{metric.dataset}: predictions only, not scored")
        else:
            missing.append(f"{metric.dataset}: no result")
    if missing:
        return Score(None, "; ".join(missing))
    return Score(sum(values) / len(values), ", ".join(sources))


def parse_given(items: list[str]) -> dict[str, float]:
    known = {metric.dataset for benchmark in BENCHMARKS for metric in benchmark.metrics}
    given = {}
    for item in items:
        dataset, sep, value = item.partition("=")
        if not sep or dataset not in known:
            raise InputError(f"--score {item!r}: expected DATASET=VALUE with DATASET one of {sorted(known)}")
        given[dataset] = parse_number(value, f"--score {item!r}")
    return given


def load_paper_scores(path: Path = PAPER_SCORES) -> dict[str, dict[str, float]]:
    """column (model) -> benchmark -> score; exactly the benchmarks of vlmeval_benchmarks.py."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        models = [name for name in reader.fieldnames or [] if name != "benchmark"]
        rows = list(reader)
    names = [row["benchmark"] for row in rows]
    expected = [benchmark.name for benchmark in BENCHMARKS]
    if sorted(names) != sorted(expected):
        raise InputError(f"{path}: benchmarks {names} differ from {expected}")
    return {
        model: {row["benchmark"]: parse_number(row[model], f"{path}: {row['benchmark']}, {model}") for row in rows}
        for model in models
    }


# ---------------------------------------------------------------- the summary


def weighted_mean(scores: dict[str, float | None], names: list[str]) -> float:
    """The leaderboard's average: each benchmark counts once, OCRBench's 0..1000 as 0..100."""
    return sum(scores[name] * BY_NAME[name].average_weight for name in names) / len(names)


def fmt(value: float | None, decimals: int = 1) -> str:
    return "missing" if value is None else f"{value:.{decimals}f}"


def markdown_table(model: str, ours: dict[str, Score], paper: dict[str, dict[str, float]]) -> str:
    columns = list(paper)
    reference = "WeThink-VL-7B" if "WeThink-VL-7B" in paper else columns[-1]
    lines = [
        f"| benchmark | {model} | " + " | ".join(columns) + f" | {model} - {reference} | source |",
        "| --- | ---: | " + " | ".join("---:" for _ in columns) + " | ---: | --- |",
    ]
    for benchmark in BENCHMARKS:
        score, decimals = ours[benchmark.name], benchmark.decimals
        delta = None if score.value is None else score.value - paper[reference][benchmark.name]
        lines.append(
            f"| {benchmark.name} | {fmt(score.value, decimals)} | "
            + " | ".join(fmt(paper[c][benchmark.name], decimals) for c in columns)
            + f" | {'missing' if delta is None else f'{delta:+.{decimals}f}'} | {score.source} |"
        )
    everything = [benchmark.name for benchmark in BENCHMARKS]
    present = [name for name in everything if ours[name].value is not None]
    values = {name: ours[name].value for name in everything}
    rows = [(f"average, all {len(everything)}", everything)]
    if 0 < len(present) < len(everything):
        rows.append((f"average, the {len(present)} we have", present))
    for label, names in rows:
        mine = weighted_mean(values, names) if set(names) <= set(present) else None
        theirs = [weighted_mean(paper[c], names) for c in columns]
        delta = None if mine is None else mine - weighted_mean(paper[reference], names)
        lines.append(
            f"| **{label}** | {fmt(mine)} | " + " | ".join(fmt(v) for v in theirs)
            + f" | {'missing' if delta is None else f'{delta:+.1f}'} | OCRBench counts /10 |"
        )
    return "\n".join(lines) + "\n"


def chart_series(
    model: str, ours: dict[str, Score], paper: dict[str, dict[str, float]]
) -> tuple[list[str], dict[str, list[float | None]]]:
    """Bar labels and heights per series: OCRBench /10, None where ours is missing, then the average over the
    benchmarks ours has (all of them when complete)."""
    everything = [benchmark.name for benchmark in BENCHMARKS]
    span = [name for name in everything if ours[name].value is not None]
    labels = [b.name + (" /10" if b.average_weight != 1 else "") for b in BENCHMARKS] + [f"average ({len(span)})"]
    series = {model: {name: ours[name].value for name in everything}, **paper}
    heights = {}
    for label, scores in series.items():
        bars = [None if scores[b.name] is None else scores[b.name] * b.average_weight for b in BENCHMARKS]
        heights[label] = bars + [weighted_mean(scores, span) if span else None]
    return labels, heights


def bar_chart(model: str, ours: dict[str, Score], paper: dict[str, dict[str, float]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, heights = chart_series(model, ours, paper)
    width = 0.8 / len(heights)
    figure, axes = plt.subplots(figsize=(15, 5.5))
    for i, (label, bars) in enumerate(heights.items()):
        xs = [x + (i - (len(heights) - 1) / 2) * width for x in range(len(bars))]
        drawn = axes.bar([x for x, h in zip(xs, bars) if h is not None], [h for h in bars if h is not None], width,
                         label=label)
        color = drawn.patches[0].get_facecolor() if drawn.patches else "black"
        for x, h in zip(xs, bars):
            if h is None:
                axes.text(x, 1, "missing", rotation=90, ha="center", va="bottom", fontsize=8, color=color)
    axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    axes.set_ylabel("score (OCRBench /10)")
    axes.set_title(f"{model} next to the OpenCompass leaderboards of 2025-05-30 (missing = no scored result, not 0)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=150, format="png")
    plt.close(figure)


def write_atomically(path: Path, write) -> None:
    """A killed run leaves no file that looks complete: write a sibling, then rename it into place."""
    partial = path.with_name(path.name + ".partial")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def default_model(run_dir: Path) -> str:
    return run_dir.parent.name if EVAL_RUN_DIR.match(run_dir.name) else run_dir.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="VLMEvalKit's {work_dir}/{model} (or one of its T... run folders)")
    parser.add_argument("--model", help="the model name in the file names (default: from RUN_DIR)")
    parser.add_argument("--out-dir", type=Path, help="where summary.md and summary.png go (default: RUN_DIR)")
    parser.add_argument("--score", action="append", default=[], metavar="DATASET=VALUE",
                        help="a score VLMEvalKit could not compute here (MMBench test splits: the server's)")
    args = parser.parse_args(argv)
    run_dir, out_dir = args.run_dir.resolve(), (args.out_dir or args.run_dir).resolve()
    model = args.model or default_model(run_dir)
    if not run_dir.is_dir():
        print(f"summarize: {run_dir} is not a directory", file=sys.stderr)
        return 2
    try:
        given = parse_given(args.score)
        paper = load_paper_scores()
        names = sorted(p.name for p in run_dir.iterdir())
        ours = {b.name: benchmark_score(run_dir, model, b, names, given) for b in BENCHMARKS}
    except InputError as exc:
        print(f"summarize: {exc}", file=sys.stderr)
        return 2
    if all(score.value is None for score in ours.values()):
        print(f"summarize: no scored VLMEvalKit result for model {model!r} in {run_dir} "
              f"(files are named {model}_<dataset>_...; --model sets the name)", file=sys.stderr)
        return 1
    table = markdown_table(model, ours, paper) + f"\n{REFERENCE_SOURCE}\n"
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(out_dir / "summary.md", lambda p: p.write_text(f"# {model}\n\n{table}", encoding="utf-8"))
    write_atomically(out_dir / "summary.png", lambda p: bar_chart(model, ours, paper, p))
    print(table, end="")
    print(f"wrote {out_dir / 'summary.md'} and {out_dir / 'summary.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
