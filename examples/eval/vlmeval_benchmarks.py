"""The 13 benchmarks of the two OpenCompass leaderboards WeThink reports, as VLMEvalKit runs and scores them: one
table for the config and the summary. (The WeThink paper's abstract counts 14 benchmarks; these 13 are the ones on
the academic and reasoning leaderboards, whose numbers paper_scores.csv holds.)

Each benchmark names the VLMEvalKit dataset(s) that the OpenCompass leaderboards report (VLMEvalKit's
`vlmeval/tools.py`: level `l1` for the academic leaderboard, `math` for the reasoning one), the dataset
class that builds it from a `--config` file, and where VLMEvalKit's evaluation writes the headline number:

    {work_dir}/{model}/{model}_{dataset}[_{judge}]_{acc.csv | score.csv | score.json}

(CSV written by pandas with every field quoted; the judge part only where an LLM judge extracts answers).
MMBench on the leaderboard is MMBench v1.1, the mean of its TEST_EN and TEST_CN splits; HallusionBench is
the mean of aAcc, fAcc and qAcc; DynaMath is the worst-case accuracy; WeMath the strict score; MMMU the
validation split of MMMU_DEV_VAL. OCRBench is out of 1000 and counts /10 in averages, as on the leaderboard.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """Where one VLMEvalKit dataset's number is: file suffix, row and column(s) of its result file."""

    dataset: str  # VLMEvalKit dataset name: the config key and the middle of every result file's name
    dataset_class: str  # the class in vlmeval.dataset that builds it from a --config entry
    suffix: str  # the result file's name ends with this
    judged: bool  # a judge name sits between the dataset and the suffix (MathVista_MINI_gpt-4o-mini_score.csv)
    row: tuple[str, str] | None  # (key column, key value) of the row to read; None: the file has one row
    columns: tuple[str, ...]  # the value is the mean of these columns
    scale: float = 1.0  # VLMEvalKit value x scale = the leaderboard's unit (percent; OCRBench points)


@dataclass(frozen=True)
class Benchmark:
    name: str  # as the leaderboards name it
    metrics: tuple[Metric, ...]  # more than one: their mean (MMBench v1.1 = mean of TEST_EN and TEST_CN)
    average_weight: float = 1.0  # contribution to an average: OCRBench's 0..1000 counts /10
    decimals: int = 1  # as the leaderboards print it


def _acc(dataset: str, dataset_class: str = "ImageMCQDataset", split: str | None = None) -> Metric:
    """Multiple choice: `{model}_{dataset}_acc.csv`, column Overall in 0..1, one row per split."""
    row = ("split", split) if split else None
    return Metric(dataset, dataset_class, "acc.csv", judged=False, row=row, columns=("Overall",), scale=100.0)


def _judged(dataset: str, dataset_class: str, row: tuple[str, str] | None, column: str, scale: float = 1.0) -> Metric:
    """An LLM judge extracts the answers: `{model}_{dataset}_{judge}_score.csv`."""
    return Metric(dataset, dataset_class, "score.csv", judged=True, row=row, columns=(column,), scale=scale)


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("MathVista", (_judged("MathVista_MINI", "MathVista", ("Task&Skill", "Overall"), "acc"),)),
    Benchmark("MathVision", (_judged("MathVision", "MathVision", ("Subject", "Overall"), "acc"),)),
    Benchmark("MathVerse", (_judged("MathVerse_MINI_Vision_Only", "MathVerse", None, "Overall"),)),
    Benchmark("DynaMath", (_judged("DynaMath", "Dynamath", ("Setting", "Worst Case"), "Overall", scale=100.0),)),
    Benchmark("WeMath", (_judged("WeMath", "WeMath", None, "Score (Strict)"),)),  # written as "36.19%"
    Benchmark("LogicVista", (_judged("LogicVista", "LogicVista", ("Task&Skill", "Overall"), "acc"),)),
    Benchmark("MMBench", (_acc("MMBench_TEST_EN_V11"), _acc("MMBench_TEST_CN_V11"))),
    Benchmark("MMStar", (_acc("MMStar"),)),
    Benchmark("MMMU", (_acc("MMMU_DEV_VAL", "MMMUDataset", split="validation"),)),
    Benchmark(
        "HallusionBench",
        (Metric("HallusionBench", "ImageYORNDataset", "score.csv", judged=False,
                row=("split", "Overall"), columns=("aAcc", "fAcc", "qAcc")),),
    ),
    Benchmark("AI2D", (_acc("AI2D_TEST"),)),
    Benchmark(
        "OCRBench",
        (Metric("OCRBench", "OCRBench", "score.json", judged=False, row=None, columns=("Final Score",)),),
        average_weight=0.1,
        decimals=0,
    ),
    Benchmark("MMVet", (_judged("MMVet", "MMVet", ("Category", "Overall"), "acc"),)),
)

BY_NAME: dict[str, Benchmark] = {b.name: b for b in BENCHMARKS}
