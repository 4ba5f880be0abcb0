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
    options = json.loads((tmp_path / "task.json").read_text())["options"]
    task = task_module()

    def colour(row: dict) -> str:
        return options[task.LETTERS.index(row["answer"])] if row["reward"] == "rule" else row["answer"].split(",")[0]

    def balanced(rows: list[dict], size: int) -> bool:
        batches = [rows[i : i + size] for i in range(0, len(rows), size)]
        return all(Counter((row["reward"], colour(row)) for row in batch)
                   == {(route, name): size // 8 for route in ("rule", "model") for name in options}
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


def test_the_benchmark_reports_the_last_validations_rule_answers_per_right_option(tmp_path, monkeypatch):
    """The per-option report reads the *last* validation (step 40 after step 5, not in name order) and counts the
    rule route's answers under their right option; judge rows and a missing answer block are reported as such."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_learning", REPO / "benchmarks" / "bench_learning.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_learning", bench)  # its dataclasses look their module up
    spec.loader.exec_module(bench)
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
