"""The learning benchmark's task (`examples/learn`): the generator and the keyword judge, run as the benchmark runs
them (scripts), the judge graded through the recipe's real reward and judge client."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from rewards.hybrid import compute_score
from tests.repo import REPO

LEARN = REPO / "examples" / "learn"


def make(out, *args: str) -> dict:
    subprocess.run([sys.executable, str(LEARN / "make_task.py"), "--out", str(out), *args], check=True,
                   capture_output=True)  # fmt: skip
    return {name: [json.loads(line) for line in (out / name).read_text().splitlines()]
            for name in ("train.jsonl", "val.jsonl", "cold_start.jsonl", "perception.jsonl")}  # fmt: skip


def task_module():
    """`examples/learn/make_task.py` as a module (its colours, questions), loaded from its file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_task", LEARN / "make_task.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_task_is_deterministic_balanced_and_held_out(tmp_path):
    files = make(tmp_path / "a", "--train", "16", "--val", "8", "--cold-start", "8")
    again = make(tmp_path / "b", "--train", "16", "--val", "8", "--cold-start", "8")
    assert files == again
    rule = [row for row in files["train.jsonl"] if row["reward"] == "rule"]
    assert Counter(row["answer"] for row in rule) == {"A": 4, "B": 4, "C": 4, "D": 4}  # colours balanced
    assert {row["reward"] for row in files["train.jsonl"]} == {"rule", "model"}
    train_pictures = {row["image_path"] for row in files["train.jsonl"]}
    assert not train_pictures & {row["image_path"] for row in files["val.jsonl"]}, "validation pictures are held out"
    manifest = json.loads((tmp_path / "a" / "task.json").read_text())
    assert manifest["rows"] == {name: len(rows) for name, rows in files.items()}
    from PIL import Image

    with Image.open(tmp_path / "a" / rule[0]["image_path"]) as image:
        assert image.size[0] * image.size[1] == manifest["pixels"]


def test_every_batch_read_in_order_holds_each_colour_equally_on_each_route(tmp_path):
    """The runs read the rows in order (`data.shuffle=False`): every batch of 16 (and each block of 8) holds each
    colour once per route per block, so no batch rewards one colour more than another whatever the picture. The
    descriptions' references name the colour first, as the captions do. Control: the same rows shuffled, as verl's
    default sampler would read them, give batches that do not."""
    import random

    files = make(tmp_path, "--train", "64", "--val", "8", "--cold-start", "4")
    manifest = json.loads((tmp_path / "task.json").read_text())
    options, block = manifest["options"], manifest["block"]
    assert block == 8  # the benchmark refuses --prompts not a multiple of it
    task = task_module()

    def colour(row: dict) -> str:
        return options[task.LETTERS.index(row["answer"])] if row["reward"] == "rule" else row["answer"].split(",")[0]

    def balanced(rows: list[dict], size: int) -> bool:
        batches = [rows[i : i + size] for i in range(0, len(rows), size)]
        return all(Counter((row["reward"], colour(row)) for row in batch)
                   == {(route, name): size // block for route in ("rule", "model") for name in options}
                   for batch in batches)  # fmt: skip

    rows = files["train.jsonl"]
    assert len(rows) == 128 and balanced(rows, 8) and balanced(rows, 16)
    judged = [row for row in rows if row["reward"] == "model"]
    assert all(row["answer"].startswith(colour(row) + ", a white ") for row in judged)
    picture_colour = {row["image_path"]: colour(row) for row in rows if row["reward"] == "rule"}
    assert all(colour(row) == picture_colour[row["image_path"]] for row in judged)  # the picture's, named first
    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)
    assert not balanced(shuffled, 16)  # the control
    assert not balanced(rows, 12)  # why --prompts must be a multiple of the block
    unjudged = make(tmp_path / "half", "--train", "8", "--val", "4", "--cold-start", "4", "--judge-every", "2")
    assert unjudged and json.loads((tmp_path / "half" / "task.json").read_text())["block"] is None


def test_the_cold_start_answers_are_drawn_at_random_not_from_the_picture(tmp_path):
    """The cold start teaches the format, not the answers: its choices (an option's text, a colour word) agree with
    the picture about as often as chance; the training rows' letters (the control) always do. The truth is read off
    the picture's corner."""
    from PIL import Image

    files = make(tmp_path, "--train", "32", "--val", "4", "--cold-start", "64")
    options = json.loads((tmp_path / "task.json").read_text())["options"]
    task = task_module()

    def agreement(rows) -> float:
        rule = [row for row in rows if row["reward"] == "rule"]
        hits = 0
        for row in rule:
            with Image.open(tmp_path / row["image_path"]) as image:
                corner = image.convert("RGB").getpixel((0, 0))
            truth = next(name for name, rgb in task.COLOURS.items() if rgb == corner)
            said = options[task.LETTERS.index(row["answer"])] if row["answer"] in task.LETTERS else row["answer"]
            hits += said == truth
        return hits / len(rule)

    assert agreement(files["train.jsonl"]) == 1.0
    assert agreement(files["cold_start.jsonl"]) < 0.5  # chance is 0.25
    assert {row["answer"] for row in files["cold_start.jsonl"] if row["reward"] == "rule"} == set(options)
    assert {row["answer"] for row in files["train.jsonl"] if row["reward"] == "rule"} == set(task.LETTERS)


def test_the_perception_captions_name_the_pictures_colour_on_training_pictures_only(tmp_path):
    """The perception stage teaches seeing: every caption names its picture's colour (read off the picture's
    corner), captions cover the training pictures and no others, and they ask neither route's question nor answer
    with an option letter. The control: the same check on the cold start's random colours fails."""
    from PIL import Image

    files = make(tmp_path, "--train", "16", "--val", "4", "--cold-start", "16")
    task = task_module()

    def colour_of(path: str) -> str:
        with Image.open(tmp_path / path) as image:
            corner = image.convert("RGB").getpixel((0, 0))
        return next(name for name, rgb in task.COLOURS.items() if rgb == corner)

    def named(answer: str) -> set[str]:
        return {name for name in task.COLOURS if name in answer.lower()}

    captions = files["perception.jsonl"]
    assert all(named(row["answer"]) == {colour_of(row["image_path"])} for row in captions)
    assert {row["image_path"] for row in captions} == {row["image_path"] for row in files["train.jsonl"]}
    assert not {row["problem"] for row in captions} & {task.RULE_QUESTION, task.JUDGE_QUESTION}
    assert not any(row["answer"].strip() in "ABCD" for row in captions)
    judge_cold = [row for row in files["cold_start.jsonl"] if row["reward"] == "model"]
    assert not all(named(row["answer"]) == {colour_of(row["image_path"])} for row in judge_cold)  # the control


def first_tokens(names) -> dict[str, str]:
    """The first token of each name as the policy writes it in an answer (`<answer>name</answer>`: no space)."""
    from recipes.cpu.tiny_model import build_tiny_processor

    tokenizer = build_tiny_processor().tokenizer
    return {name: tokenizer.tokenize(name)[0] for name in names}


def test_each_colour_starts_with_its_own_token_in_the_tiny_tokenizer():
    """A policy's first token of an answer must pick one colour: with "grey" beside "green" (gre|y, gre|en) it picked
    two, the policy wrote it for every picture and GRPO stalled at 0.50 (red answered green, blue grey)."""
    colours = task_module().COLOURS
    firsts = first_tokens(colours)
    assert len(set(firsts.values())) == len(colours), firsts
    control = first_tokens(["red", "green", "blue", "grey"])  # the task's colours before: two share "gre"
    assert len(set(control.values())) == 3, control


@pytest.fixture(scope="module")
def keyword_judge():
    proc = subprocess.Popen([sys.executable, str(LEARN / "keyword_judge.py"), "--port", "0"], stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(
    "answer, acc",
    [
        ("A white circle on red.", 1.0),
        ("red", 1.0),
        ("It is RED.", 1.0),
        ("A white circle on blue.", 0.0),  # another colour
        ("red or blue", 0.0),  # a hedge across colours
        ("A white circle.", 0.0),  # no colour
        ("credit", 0.0),  # a colour's letters inside a word are no colour
    ],
)
async def test_the_keyword_judge_grades_through_the_recipes_judge_route(keyword_judge, monkeypatch, answer, acc):
    monkeypatch.setenv("LEARNING_TEST_KEY", "unused")
    result = await compute_score(
        "wethink", f"<think>I look at the image.</think><answer>{answer}</answer>", "A white circle on red.",
        {"reward_method": "model", "category": "descriptive", "question": "Describe the image."},
        judge_url=keyword_judge, judge_model="keyword-judge", judge_api_key_env="LEARNING_TEST_KEY",
    )  # fmt: skip
    assert (result["route_model"], result["judge_ok"], result["acc"]) == (1, 1, acc)


def load_bench(monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_learning", REPO / "benchmarks" / "bench_learning.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_learning", bench)  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    return bench


def test_the_benchmark_reports_the_last_validations_rule_answers_per_right_option(tmp_path, monkeypatch):
    """The per-option report reads the *last* validation (step 40 after step 5, not in name order) and counts the
    rule route's answers under their right option; judge rows and a missing answer block are reported as such."""
    bench = load_bench(monkeypatch)
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "task.json").write_text(json.dumps({"options": ["red", "green"]}))
    run = tmp_path / "grpo"
    (run / "validation").mkdir(parents=True)

    def dump(step: int, rows: list[tuple[str, str, int]]) -> None:
        lines = [json.dumps({"gts": gts, "output": out, "route_rule": rule}) for gts, out, rule in rows]
        (run / "validation" / f"{step}.jsonl").write_text("\n".join(lines) + "\n")

    said = "<think>I look.</think><answer>{}</answer>"
    dump(5, [("A", said.format("B"), 1)] * 3)
    dump(40, [("A", said.format("green"), 1), ("A", said.format("green"), 1), ("A", "no block", 1),
              ("B", said.format("green"), 1), ("B", said.format("A white circle on red."), 0)])  # fmt: skip
    assert bench.rule_answers(run) == "step 40, A red: green 2, (none) 1 | B green: green 1"
    assert bench.rule_answers(tmp_path / "missing") == "no validation dump"


def test_the_benchmark_refuses_a_cold_start_folder_without_a_model_before_any_work(tmp_path):
    """`--cold-start DIR` skips both SFT stages; a folder with no model stops the benchmark at once, naming it,
    before the task is made (control: with a config.json it passes, and the next check, of --runs, speaks)."""
    bench = [sys.executable, str(REPO / "benchmarks" / "bench_learning.py"), "--runs", "nope"]
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = subprocess.run([*bench[:2], "--out", str(tmp_path / "out"), "--cold-start", str(empty)],
                             capture_output=True, text=True)  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    assert f"--cold-start: no model at {empty}" in refused.stderr
    assert not (tmp_path / "out").exists()
    (empty / "config.json").write_text("{}")
    passed = subprocess.run([*bench, "--out", str(tmp_path / "out"), "--cold-start", str(empty)],
                            capture_output=True, text=True)  # fmt: skip
    assert passed.returncode == 2 and "--runs: unknown ['nope']" in passed.stderr


def test_the_benchmark_refuses_prompts_that_split_the_balanced_block_before_data_prep(tmp_path, monkeypatch):
    """`--prompts 12` would read batches holding some colours twice and others once: refused once the task is
    made, naming the flag and the block, before the data prep. Controls: whole blocks pass; a task whose judge rows
    skip pictures has no balanced block, and any size is refused."""
    bench = [sys.executable, str(REPO / "benchmarks" / "bench_learning.py"), "--train-pictures", "8",
             "--val-pictures", "4", "--out", str(tmp_path / "out")]  # fmt: skip
    refused = subprocess.run([*bench, "--prompts", "12"], capture_output=True, text=True)
    assert refused.returncode == 1, refused.stderr
    assert "--prompts 12: must be a multiple of the task's balanced block of 8 rows" in refused.stderr
    assert (tmp_path / "out" / "task" / "task.json").is_file() and not (tmp_path / "out" / "data").exists()
    check = load_bench(monkeypatch).check_prompts
    check(8, 8)
    check(16, 8)
    with pytest.raises(SystemExit, match="--prompts 16: .* block of None rows"):
        check(16, None)


def test_the_verdict_passes_a_rise_beside_flat_controls_and_names_each_way_the_runs_can_fail(monkeypatch):
    """The benchmark's verdict (its exit status; the opt-in tests/test_learning_run.py asserts it): the shapes seed 0
    measured pass (a shuffled control one colour up, at 0.50, included; DAPO is not judged), and each failure is
    named: GRPO flat or short of 0.9, a route that did not rise, a control that reached 0.9 on the way or ended more
    than one colour up, a route never validated."""
    bench = load_bench(monkeypatch)

    def run(name: str, rule: list[float], judge: list[float] | None) -> object:
        curves = {bench.RULE_ACC: [(5 * i, value) for i, value in enumerate(rule)]}
        if judge is not None:
            curves[bench.JUDGE_ACC] = [(5 * i, value) for i, value in enumerate(judge)]
        return bench.Result(name, 1.0, 1.0, 0, curves)

    measured = {"grpo": run("grpo", [0.25, 0.73, 0.62, 1.0], [0.33, 0.25, 0.75, 1.0]),
                "shuffled": run("shuffled", [0.25, 0.5, 0.5, 0.5], [0.33, 0.25, 0.0, 0.25]),
                "lr0": run("lr0", [0.25] * 4, [0.33] * 4), "dapo": run("dapo", [0.25] * 4, [0.33] * 4)}  # fmt: skip
    assert bench.verdict(measured) == []
    assert bench.verdict_line(measured, []) == "verdict: grpo learned both routes; shuffled and lr0 did not learn"
    assert bench.verdict_line({"grpo": measured["grpo"]}, []) == "verdict: grpo learned both routes"  # nothing more
    flat = {**measured, "grpo": run("grpo", [0.25] * 4, [0.33] * 4)}
    assert bench.verdict(flat) == ["grpo: rule acc ends at 0.25, under 0.9",
                                   "grpo: rule acc rose 0.25 -> 0.25, less than 0.3",
                                   "grpo: judge acc rose 0.33 -> 0.33, less than 0.3"]  # fmt: skip
    judge_stuck = {**measured, "grpo": run("grpo", [0.25, 1.0], [0.33, 0.5])}
    assert bench.verdict(judge_stuck) == ["grpo: judge acc rose 0.33 -> 0.50, less than 0.3"]
    passed_through = {**measured, "shuffled": run("shuffled", [0.25, 0.94, 0.5], [0.33, 0.33, 0.33])}
    assert bench.verdict(passed_through) == ["shuffled (a control) learned: rule acc 0.25 -> 0.50, best 0.94"]
    two_colours_up = {**measured, "lr0": run("lr0", [0.25, 0.25], [0.33, 0.83])}
    assert bench.verdict(two_colours_up) == ["lr0 (a control) learned: judge acc 0.33 -> 0.83, best 0.83"]
    unvalidated = {**measured, "grpo": run("grpo", [0.25, 1.0], None)}
    assert bench.verdict(unvalidated) == ["grpo: no judge accuracy was validated"]
