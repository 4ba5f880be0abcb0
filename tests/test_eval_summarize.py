"""examples/eval/summarize.py on result files written the way VLMEvalKit writes them.

VLMEvalKit's `dump` writes CSV with pandas `to_csv(index=False, quoting=csv.QUOTE_ALL)` and JSON with
`json.dump(indent=4)`; the names and columns below follow its evaluators (image_mcq.report_acc,
utils/mathvista.MathVista_acc, utils/mathv.MATH_V_acc, utils/mathverse.MathVerse_acc, dynamath.Dynamath.evaluate,
utils/wemath.wemath_evaluate_models + wemath_accuracy, utils/logicvista.evaluate_logicvista,
utils/yorn.Hallusion_rating, image_vqa.OCRBench.evaluate, utils/mmvet.MMVet_acc), next to the intermediate files
those evaluators also leave (judge records, per-item scores, predictions).
"""

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.repo import REPO

EVAL = REPO / "examples" / "eval"
SCRIPT = EVAL / "summarize.py"
MODEL = "WeThink-verl-7B"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load_summarize():
    sys.path.insert(0, str(EVAL))
    try:
        spec = importlib.util.spec_from_file_location("wethink_eval_summarize", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(EVAL))


summarize = load_summarize()


def dump_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(rows)


def write_run(run: Path, skip: tuple[str, ...] = ()) -> None:
    """One model's VLMEvalKit outputs for the 13 paper benchmarks (MMBench's test splits: predictions only)."""
    run.mkdir(parents=True, exist_ok=True)
    m = MODEL

    def f(name):
        return run / f"{m}_{name}"

    def write(dataset, name, rows=None, data=None):
        if dataset in skip:
            return
        (f(dataset + ".xlsx")).write_bytes(b"PK\x03\x04 predictions")  # the prediction file is always there
        if rows is not None:
            dump_csv(f(name), rows)
        else:
            f(name).write_text(json.dumps(data, indent=4))

    write("MathVista_MINI", "MathVista_MINI_gpt-4o-mini_score.csv", [
        {"Task&Skill": "Overall", "tot": 1000, "prefetch": 612, "hit": 714, "prefetch_rate": 61.2, "acc": 71.4},
        {"Task&Skill": "figure question answering", "tot": 269, "prefetch": 150, "hit": 190,
         "prefetch_rate": 55.76208178438662, "acc": 70.63197026022305},
    ])
    write("MathVision", "MathVision_gpt-4o-mini_score.csv", [
        {"Subject": "algebra", "tot": 190, "prefetch": 60, "hit": 50, "prefetch_rate": 31.6, "acc": 26.31578947368421},
        {"Subject": "Overall", "tot": 3040, "prefetch": 900, "hit": 800, "prefetch_rate": 29.6,
         "acc": 26.31578947368421},
    ])
    write("MathVerse_MINI_Vision_Only", "MathVerse_MINI_Vision_Only_gpt-4o-mini_score.csv", [
        {"split": "Vision Only", "Overall": 43.90862944162436, "Plane Geometry": 45.1, "Functions": 40.3},
    ])
    write("DynaMath", "DynaMath_gpt-4o-mini_score.csv", [
        {"Setting": "Average", "Overall": 0.5592, "Subject-PG": 0.5, "Level-elementary school": 0.61},
        {"Setting": "Worst Case", "Overall": 0.25349301397205587, "Subject-PG": 0.2, "Level-elementary school": 0.3},
    ])
    write("WeMath", "WeMath_gpt4o-mini_score.csv", [
        {"Model": "", "Score (Strict)": "45.52%", "InsufficientKnowledge (Strict)": "20.00% (105)",
         "Score (Loose)": "63.05%", "One-step(S1)": "70.00%", "Two-step(S2)": "60.00%", "Three-step(S3)": "50.00%"},
    ])
    write("LogicVista", "LogicVista_gpt4o-mini_score.csv", [
        {"Task&Skill": "Overall", "tot": 448, "hit": 226, "acc": 50.44642857142857},
        {"Task&Skill": "inductive", "tot": 107, "hit": 40, "acc": 37.38317757009346},
    ])
    for split in ("MMBench_TEST_EN_V11", "MMBench_TEST_CN_V11"):  # no public answers: VLMEvalKit stops here
        f(split + ".xlsx").write_bytes(b"PK\x03\x04 predictions")
    write("MMStar", "MMStar_acc.csv", [
        {"split": "none", "Overall": 0.6453333333333333, "coarse perception": 0.72, "math": 0.6},
    ])
    write("MMMU_DEV_VAL", "MMMU_DEV_VAL_acc.csv", [
        {"split": "dev", "Overall": 0.62, "Accounting": 0.6},
        {"split": "validation", "Overall": 0.5922222222222222, "Accounting": 0.5333333333333333},
    ])
    write("HallusionBench", "HallusionBench_score.csv", [
        {"split": "Overall", "aAcc": 70.0, "fAcc": 40.2, "qAcc": 45.5},
        {"split": "VD", "aAcc": 65.0, "fAcc": 30.0, "qAcc": 35.0},
    ])
    write("AI2D_TEST", "AI2D_TEST_acc.csv", [{"split": "none", "Overall": 0.8371, "atomStructure": 0.75}])
    write("OCRBench", "OCRBench_score.json", data={
        "Text Recognition": 246, "Scene Text-centric VQA": 180, "Doc-oriented VQA": 170,
        "Key Information Extraction": 180, "Handwritten Mathematical Expression Recognition": 100,
        "Final Score": 876, "Final Score Norm": 87.6,
    })
    write("MMVet", "MMVet_gpt-4-turbo_score.csv", [
        {"Category": "rec", "tot": 187, "acc": 68.0},
        {"Category": "Overall", "tot": 218, "acc": 72.61467889908256},
    ])
    if "MMVet" not in skip:  # the per-category file next to it, another "score" file with another Overall
        dump_csv(f("MMVet_gpt-4-turbo_score_fine.csv"), [{"Category": "Overall", "tot": 218, "acc": 10.0}])
    # what the judged evaluators also leave: judge records and per-item scores, never read
    for name in ("MathVista_MINI_gpt-4o-mini.xlsx", "MathVerse_MINI_Vision_Only_gpt-4o-mini_score.xlsx",
                 "MathVerse_MINI_Vision_Only_gpt-4o-mini_extract.xlsx", "MMStar_openai_result.xlsx",
                 "HallusionBench_auxmatch.xlsx", "OCRBench_PREV.pkl"):
        f(name).write_bytes(b"not a result")
    (run / "status.json").write_text("{}")


EXPECTED = {  # the leaderboard numbers the files above hold
    "MathVista": 71.4, "MathVision": 26.31578947368421, "MathVerse": 43.90862944162436,
    "DynaMath": 25.349301397205587, "WeMath": 45.52, "LogicVista": 50.44642857142857, "MMStar": 64.53333333333333,
    "MMMU": 59.22222222222222, "HallusionBench": (70.0 + 40.2 + 45.5) / 3, "AI2D": 83.71, "OCRBench": 876,
    "MMVet": 72.61467889908256,
}


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, cwd=cwd)


def table_rows(markdown: str) -> dict[str, list[str]]:
    rows = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 2 and cells[0] not in ("benchmark", "---"):
            rows[cells[0].strip("*")] = cells[1:]
    return rows


def test_every_benchmark_reads_the_leaderboard_number_from_its_file(tmp_path):
    run = tmp_path / "outputs" / MODEL
    write_run(run)
    names = sorted(p.name for p in run.iterdir())
    for benchmark in summarize.BENCHMARKS:
        score = summarize.benchmark_score(run, MODEL, benchmark, names, {})
        if benchmark.name == "MMBench":
            assert score.value is None and score.source.count("predictions only, not scored") == 2
        else:
            assert score.value == pytest.approx(EXPECTED[benchmark.name]), benchmark.name


def test_cli_writes_table_and_chart_with_missing_shown_as_missing(tmp_path):
    run = tmp_path / "outputs" / MODEL
    write_run(run, skip=("MMVet",))
    result = run_cli(run, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    markdown = (run / "summary.md").read_text()
    assert markdown.endswith(result.stdout.split("wrote ")[0])
    rows = table_rows(markdown)
    assert rows["MathVista"][:4] == ["71.4", "68.1", "71.6", "-0.2"]
    assert rows["OCRBench"][:4] == ["876", "888", "890", "-14"]
    assert rows["HallusionBench"][0] == "51.9" and rows["MMMU"][0] == "59.2" and rows["WeMath"][0] == "45.5"
    assert rows["MMVet"][0] == "missing" and rows["MMVet"][3] == "missing" and "no result" in rows["MMVet"][4]
    assert rows["MMBench"][0] == "missing" and "predictions only" in rows["MMBench"][4]
    assert rows["average, all 13"][0] == "missing"
    have = [b for b in EXPECTED if b != "MMVet"]
    ours = sum(EXPECTED[b] / (10 if b == "OCRBench" else 1) for b in have) / len(have)
    wethink = {"MathVista": 71.6, "MathVision": 26.0, "MathVerse": 44.2, "DynaMath": 24.8, "WeMath": 48.0,
               "LogicVista": 51.2, "MMStar": 64.2, "MMMU": 61.0, "HallusionBench": 55.3, "AI2D": 84.0, "OCRBench": 89.0}
    assert rows["average, the 11 we have"][0] == f"{ours:.1f}"
    assert rows["average, the 11 we have"][2] == f"{sum(wethink.values()) / 11:.1f}"
    assert (run / "summary.png").read_bytes()[:8] == PNG_MAGIC
    assert not list(run.glob("*.partial"))


def test_chart_draws_no_bar_for_a_missing_benchmark(tmp_path):
    run = tmp_path / MODEL
    write_run(run, skip=("MMVet",))
    names = sorted(p.name for p in run.iterdir())
    ours = {b.name: summarize.benchmark_score(run, MODEL, b, names, {}) for b in summarize.BENCHMARKS}
    labels, heights = summarize.chart_series(MODEL, ours, summarize.load_paper_scores())
    assert labels[-1] == "average (11)" and "OCRBench /10" in labels
    mine = dict(zip(labels, heights[MODEL]))
    assert mine["MMVet"] is None and mine["MMBench"] is None  # no bar, not a bar of 0
    assert mine["OCRBench /10"] == pytest.approx(87.6)
    assert dict(zip(labels, heights["WeThink-VL-7B"]))["MMVet"] == 73.2


def test_server_scores_complete_mmbench_and_the_full_average(tmp_path):
    run = tmp_path / MODEL
    write_run(run)
    result = run_cli(run, "--score", "MMBench_TEST_EN_V11=83.1", "--score", "MMBench_TEST_CN_V11=80.9",
                     "--out-dir", tmp_path / "report")
    assert result.returncode == 0, result.stderr
    rows = table_rows((tmp_path / "report" / "summary.md").read_text())
    assert rows["MMBench"][0] == "82.0" and "--score MMBench_TEST_EN_V11" in rows["MMBench"][4]
    everything = {**EXPECTED, "MMBench": 82.0}
    mean = sum(v / (10 if b == "OCRBench" else 1) for b, v in everything.items()) / 13
    assert rows["average, all 13"][0] == f"{mean:.1f}" and "average, the 13 we have" not in rows


def test_result_of_a_longer_dataset_name_is_not_taken_for_the_benchmark(tmp_path):
    """AI2D_TEST_NO_MASK and MathVision_MINI are other VLMEvalKit datasets whose names extend ours."""
    run = tmp_path / MODEL
    write_run(run, skip=("AI2D_TEST", "MathVision"))
    dump_csv(run / f"{MODEL}_AI2D_TEST_NO_MASK_acc.csv", [{"split": "none", "Overall": 0.5}])
    dump_csv(run / f"{MODEL}_MathVision_MINI_gpt-4o-mini_score.csv", [{"Subject": "Overall", "acc": 20.0}])
    names = sorted(p.name for p in run.iterdir())
    for name in ("AI2D", "MathVision"):
        assert summarize.benchmark_score(run, MODEL, summarize.BY_NAME[name], names, {}).value is None
    # negative control: the same files under our dataset names are read
    (run / f"{MODEL}_AI2D_TEST_NO_MASK_acc.csv").rename(run / f"{MODEL}_AI2D_TEST_acc.csv")
    names = sorted(p.name for p in run.iterdir())
    assert summarize.benchmark_score(run, MODEL, summarize.BY_NAME["AI2D"], names, {}).value == 50.0


def test_model_name_comes_from_the_run_folder(tmp_path):
    run = tmp_path / MODEL / "T20250613_G1a2b3c4d"  # one of VLMEvalKit's per-run folders
    write_run(run)
    result = run_cli(run)
    assert result.returncode == 0, result.stderr
    assert f"| benchmark | {MODEL} |" in (run / "summary.md").read_text()
    result = run_cli(run, "--model", "Other-7B")
    assert result.returncode == 1 and "no scored VLMEvalKit result for model 'Other-7B'" in result.stderr
    # newer VLMEvalKit links each file of its latest run into {work_dir}/{model}, relative links
    for path in sorted(run.iterdir()):
        if path.name.startswith(MODEL):
            (run.parent / path.name).symlink_to(path.relative_to(run.parent))
    result = run_cli(run.parent, "--out-dir", tmp_path / "via-links")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "via-links" / "summary.md").read_text() == (run / "summary.md").read_text()


def test_bad_input_is_named_and_writes_nothing(tmp_path):
    run = tmp_path / MODEL
    write_run(run)
    dump_csv(run / f"{MODEL}_MMStar_acc.csv", [{"split": "none", "Overall": "n/a"}])
    result = run_cli(run)
    assert result.returncode == 2
    assert f"{MODEL}_MMStar_acc.csv: column 'Overall': 'n/a' is not a number" in result.stderr
    dump_csv(run / f"{MODEL}_MMMU_DEV_VAL_acc.csv", [{"split": "dev", "Overall": 0.6}])
    dump_csv(run / f"{MODEL}_MMStar_acc.csv", [{"split": "none", "Overall": 0.6}])
    result = run_cli(run)
    assert result.returncode == 2 and "expected one row with split == 'validation', found 0" in result.stderr
    assert not (run / "summary.md").exists() and not (run / "summary.png").exists()
    result = run_cli(run, "--score", "MMBench=82")
    assert result.returncode == 2 and "--score 'MMBench=82'" in result.stderr


def test_paper_numbers_live_once_and_are_checked(tmp_path):
    paper = summarize.load_paper_scores()
    assert set(paper) == {"Qwen2.5-VL-7B", "WeThink-VL-7B"}
    assert paper["WeThink-VL-7B"]["WeMath"] == 48.0 and paper["Qwen2.5-VL-7B"]["OCRBench"] == 888
    broken = tmp_path / "paper.csv"
    lines = summarize.PAPER_SCORES.read_text().splitlines()
    broken.write_text("\n".join(line for line in lines if not line.startswith("MMVet")) + "\n")
    with pytest.raises(summarize.InputError, match="differ from"):
        summarize.load_paper_scores(broken)
