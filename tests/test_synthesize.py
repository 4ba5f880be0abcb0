"""The synthesis pipeline end to end against a REAL loopback OpenAI-compatible server (tests/openai_server.py).

A scripted "world" plays the models: it recognises each call by the shipped prompt templates, tells images
apart by the bytes sent in the `image_url` data URL (vision calls) or by the scene tag the caption planted in
the description (text calls), and replies like a model would - including refusals, malformed JSON, rule
breaking questions, disagreements, an arbiter, stalls and server errors. Runs go through the CLI (`main`, or
`python -m data_prep.synthesize` in a subprocess for the kill test), so argument handling is covered too.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from data_prep import schema
from data_prep.synthesize.cli import main
from tests.openai_server import ChatServer, Reply, last_user_text
from tests.repo import REPO, WETHINK_DATASET, compose_verl

VLM, REASONER, ARBITER = "vlm-model", "reasoner-model", "arbiter-model"
COLOURS = ["red", "green", "blue"]


@dataclass(frozen=True)
class Scene:
    """What one image shows, and how the scripted models misbehave on it."""

    colour: str
    quirk: str = ""  # refuse | badjson | invalid | disagree | cotbad


SCENES = {  # image path (relative to the root) -> scene; the scene key is the file stem
    "a_plain.png": Scene("red"),
    "b_sub/nested.png": Scene("green"),
    "c_refuse.png": Scene("blue", "refuse"),
    "d_badjson.png": Scene("red", "badjson"),
    "e_invalid.png": Scene("green", "invalid"),
    "f_disagree.png": Scene("blue", "disagree"),
    "g_cotbad.png": Scene("red", "cotbad"),
}
BAD_IMAGES = {
    "h_empty.png": "empty file",
    "i_text.jpg": "not a readable image",
    "j_truncated.png": "not a readable image",
}
EXPECTED_ROWS = {  # image -> rows kept without an arbiter
    "a_plain.png": 3,
    "b_sub/nested.png": 3,
    "c_refuse.png": 0,
    "d_badjson.png": 0,
    "e_invalid.png": 1,
    "f_disagree.png": 0,
    "g_cotbad.png": 1,
}


def key_of(rel: str) -> str:
    return Path(rel).stem


def make_images(root: Path) -> None:
    for i, (rel, scene) in enumerate(SCENES.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        image = Image.new("RGB", (24 + i, 16), scene.colour)  # sizes differ, so every file's bytes differ
        image.save(path)
    (root / "h_empty.png").write_bytes(b"")
    (root / "i_text.jpg").write_text("this is not a jpeg")
    good = (root / "a_plain.png").read_bytes()
    (root / "j_truncated.png").write_bytes(good[: len(good) // 2])
    (root / "notes.txt").write_text("not an image suffix: ignored")


class World:
    """The scripted models. `calls` records (scene, call) for every request the server answered."""

    def __init__(self, root: Path):
        self.scenes = {hashlib.sha256((root / rel).read_bytes()).hexdigest(): key_of(rel) for rel in SCENES}
        self.by_key = {key_of(rel): scene for rel, scene in SCENES.items()}
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.fail: dict[tuple[str, str], Reply] = {}  # (scene, call) -> reply to send instead
        self.stall_on: tuple[str, str] | None = None  # (scene, call): block until `release` is set
        self.stalled, self.release = threading.Event(), threading.Event()

    # -- which image, which call -------------------------------------------------------------------------
    def scene_of(self, request: dict) -> str:
        content = request["messages"][-1]["content"]
        if isinstance(content, list):
            url = next(p["image_url"]["url"] for p in content if p.get("type") == "image_url")
            assert url.startswith("data:image/png;base64,")
            return self.scenes[hashlib.sha256(base64.b64decode(url.split(",", 1)[1])).hexdigest()]
        return re.search(r"\[scene (\w+)\]", content).group(1)

    @staticmethod
    def call_of(text: str) -> str:
        for phrase, call in (
            ("Describe this image in detail", "caption"),
            ("still missing or ambiguous", "refine_ask"),
            ("answer each follow-up question", "refine_answer"),
            ("Write the final fine-grained description", "describe"),
            ("You write questions about an image", "questions"),
            ("using its fine-grained description", "answer_text"),
            ("Look at the image carefully", "answer_image"),
            ("Settle a question about this image", "arbiter"),
            ("<candidate_answer>", "judge"),  # the training judge's prompt (rewards.judge)
            ("Rewrite the reasoning below", "cot"),
        ):
            if phrase in text:
                return call
        raise AssertionError(f"unrecognised prompt: {text[:100]!r}")

    def __call__(self, request: dict) -> Reply:
        text = last_user_text(request)
        key, call = self.scene_of(request), self.call_of(text)
        with self.lock:
            self.calls.append((key, call))
        if (key, call) == self.stall_on:
            self.stalled.set()
            self.release.wait(60)
            return Reply(status=503, body="{}")
        if (key, call) in self.fail:
            return self.fail[(key, call)]
        expected_model = {
            "caption": VLM,
            "refine_answer": VLM,
            "describe": VLM,
            "answer_image": VLM,
            "arbiter": ARBITER,
        }
        assert request["model"] == expected_model.get(call, REASONER), (call, request["model"])
        return Reply(getattr(self, call)(key, self.by_key[key], text))

    # -- the replies -------------------------------------------------------------------------------------
    def caption(self, key, scene, text):
        if scene.quirk == "refuse":
            return "I'm sorry, but I can't help with describing this image."
        return f"A {scene.colour} square on a plain background. [scene {key}]"

    def refine_ask(self, key, scene, text):
        if "Q:" in text:  # one round of follow-ups is enough
            return '{"ask": []}'
        return '```json\n{"ask": ["What exact shade is the square?", "Is there any text?"]}\n```'

    def refine_answer(self, key, scene, text):
        return f"1. A saturated {scene.colour}. 2. No text is visible."

    def describe(self, key, scene, text):
        return f"One saturated {scene.colour} square fills the frame; no text is visible. [scene {key}]"

    def questions(self, key, scene, text):
        colour_q = {
            "type": "multiple choice",
            "question": f"[scene {key}] What colour is the square?",
            "options": ["A. red", "B. green", "C. blue"],
            "abilities": ["reasoning", "Recognition"],
        }
        count_q = {
            "type": "Fill-in-the-blank",
            "question": f"[scene {key}] How many squares are shown?",
            "abilities": ["Reasoning", "Math"],
        }
        describe_q = {
            "type": "descriptive",
            "question": f"[scene {key}] Describe the square and its colour.",
            "abilities": ["Reasoning", "Recognition", "Spatial"],
        }
        if scene.quirk == "badjson":
            return '{"questions": [{"type": "multiple choice", "question": "What colour'  # cut off
        if scene.quirk == "invalid":
            no_second = {**count_q, "abilities": ["Reasoning"]}
            bad_type = {**count_q, "type": "numeric", "question": f"[scene {key}] How many corners?"}
            return json.dumps({"questions": [colour_q, no_second, bad_type, describe_q]})  # 4 > count 3
        return json.dumps({"questions": [colour_q, count_q, describe_q]})

    def _right_answer(self, scene, text):
        if "What colour" in text:
            return "ABC"[COLOURS.index(scene.colour)]
        if "How many squares" in text:
            return "1"
        return f"A single {scene.colour} square that fills the frame."

    def answer_text(self, key, scene, text):
        answer = self._right_answer(scene, text)
        return f"The description says there is one {scene.colour} square. <answer>{answer}</answer>"

    def answer_image(self, key, scene, text):
        if scene.quirk == "disagree":
            if "What colour" in text:
                return "<answer>A. red</answer>"
            return "<answer>2</answer>" if "How many" in text else "<answer>Two small circles.</answer>"
        if "What colour" in text:
            letter = self._right_answer(scene, text)
            return f"<answer>{letter}. {COLOURS['ABC'.index(letter)]}</answer>"
        return "<answer>one</answer>" if "How many" in text else "<answer>A big square.</answer>"

    def arbiter(self, key, scene, text):
        if "What colour" in text:  # sides with the reasoner
            return f"I see {scene.colour}. <answer>{self._right_answer(scene, text)}</answer>"
        if "How many" in text:  # sides with the vision model
            return "Looking closely there are two overlapping squares. <answer>2</answer>"
        return "I see a triangle. <answer>A triangle.</answer>"  # sides with neither

    def judge(self, key, scene, text):
        if scene.quirk == "disagree":
            return "0.5" if "circles" in text else "0"
        return "1"

    def cot(self, key, scene, text):
        answer = re.search(r"Final answer: (.*)", text).group(1).strip()
        if scene.quirk == "cotbad":
            if "What colour" in text:
                return "The square looks green. <answer>B</answer>"  # contradicts the verified answer
            if "How many" in text:
                return "There is one square, so the answer is one."  # no <answer> block
        return f"The image shows one {scene.colour} square, so the answer follows. <answer>{answer}</answer>"


def run_cli(server: ChatServer, root: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "--images", str(root), "--out", str(out),
            "--vlm-url", server.base_url, "--vlm-model", VLM,
            "--reasoner-url", server.base_url, "--reasoner-model", REASONER,
            "--timeout", "5", "--retries", "0", "--concurrency", "3", "--no-progress",
            *extra,
        ]
    )  # fmt: skip


def text_of(content: str | list[dict]) -> str:
    """Message text whether verl kept it as a string or split it into parts."""
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content if p["type"] == "text")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture()
def images(tmp_path):
    root = tmp_path / "images"
    make_images(root)
    return root


def test_images_become_wethink_rows_and_every_loss_has_a_reason(images, tmp_path):
    world = World(images)
    out = tmp_path / "out" / "qa.jsonl"
    with ChatServer(world) as server:
        assert run_cli(server, images, out) == 0
        requests = list(server.requests)
    rows = read_jsonl(out)
    assert Counter(r["image_path"] for r in rows) == +Counter(EXPECTED_ROWS)
    for row in rows:  # the exact WeThink schema, labels the prepare step maps without a --category-map
        assert tuple(row) == schema.REQUIRED_FIELDS
        category = schema.map_category(row["category"])
        assert schema.map_reward_method(row["reward"]) == (
            schema.MODEL if category == schema.DESCRIPTIVE else schema.RULE
        )
        assert "Reasoning" in row["abilities"] and len(row["abilities"]) >= 2
        assert row["refined_cot"] and "<answer>" not in row["refined_cot"]
    plain = [r for r in rows if r["image_path"] == "a_plain.png"]
    assert [r["category"] for r in plain] == ["multiple choice", "fill-in-the-blank", "descriptive"]
    assert plain[0]["problem"].endswith("\nA. red\nB. green\nC. blue") and plain[0]["answer"] == "A"
    assert plain[1]["answer"] == "1" and plain[1]["reward"] == "rule" and plain[2]["reward"] == "model"
    assert [r["answer"] for r in rows if r["image_path"] == "b_sub/nested.png"][0] == "B"

    rejects = read_jsonl(out.with_name("qa.rejects.jsonl"))
    by_image = {}
    for r in rejects:
        by_image.setdefault(r["image"], []).append((r["stage"], r["kind"]))
    assert by_image["c_refuse.png"] == [("caption", "refusal")]
    assert by_image["d_badjson.png"] == [("questions", "malformed_json")]
    assert sorted(by_image["e_invalid.png"]) == [
        ("questions", "bad_type"),
        ("questions", "no_second_ability"),
        ("questions", "over_count"),
    ]
    assert sorted(by_image["f_disagree.png"]) == [("verify", "disagreement")] * 3
    assert sorted(by_image["g_cotbad.png"]) == [("cot", "inconsistent_answer"), ("cot", "no_answer_tag")]
    for name, why in BAD_IMAGES.items():
        [record] = [r for r in rejects if r["image"] == name]
        assert record["stage"] == "image" and why in record["reason"]
    assert "notes.txt" not in by_image

    # Nothing is lost: every question generated is a row or a reject, every image is done.
    summary = json.loads(out.with_name("qa.summary.json").read_text())
    assert summary["images"] == {
        "found": 10, "done": 10, "done_before_this_run": 0, "processed_this_run": 10, "failed_this_run": 0, "left": 0
    }  # fmt: skip
    stages = summary["stages"]
    assert stages["questions"]["generated"] == len(rows) + sum("question" in r for r in rejects)
    assert stages["questions"]["rejected"] == 1 and stages["questions"]["invalid"] == 3
    assert summary["rows"] == len(rows) == 8
    assert stages["image"] == {"in": 10, "out": 7, "rejected": 3}
    assert summary["rejects"]["verify"] == {"disagreement": 3}
    assert stages["refine"]["turns"] == 6  # one follow-up round for each of the 6 captioned images
    assert summary["this_run"]["calls"]["caption"] == 7 and not summary["this_run"]["cache_hits"]
    assert len(read_jsonl(out.with_name("qa.done.jsonl"))) == 10

    # The wire format: images as base64 data URLs to the vision model only, sampling options on every request.
    for request in requests:
        assert request["temperature"] == 0.0 and request["seed"] == 0
        content = request["messages"][-1]["content"]
        assert isinstance(content, list) == (request["model"] == VLM)


def test_arbiter_settles_some_disagreements(images, tmp_path):
    world = World(images)
    out = tmp_path / "qa.jsonl"
    with ChatServer(world) as server:
        assert run_cli(server, images, out, "--arbiter-url", server.base_url, "--arbiter-model", ARBITER) == 0
    settled = [r for r in read_jsonl(out) if r["image_path"] == "f_disagree.png"]
    by_category = {r["category"]: r for r in settled}
    assert set(by_category) == {"multiple choice", "fill-in-the-blank"}
    assert by_category["multiple choice"]["answer"] == "C"  # arbiter agreed with the reasoner
    assert by_category["fill-in-the-blank"]["answer"] == "2"  # arbiter agreed with the vision model
    [left] = [r for r in read_jsonl(out.with_name("qa.rejects.jsonl")) if r["image"] == "f_disagree.png"]
    assert left["kind"] == "disagreement" and "settles neither" in left["reason"]
    assert json.loads(out.with_name("qa.summary.json").read_text())["stages"]["verify"]["arbiter_settled"] == 2
    assert sum(call == "arbiter" for _, call in world.calls) == 3  # only disagreements reach the arbiter


def test_same_replies_give_identical_output(images, tmp_path):
    outputs = []
    for run in ("one", "two"):
        out = tmp_path / run / "qa.jsonl"
        with ChatServer(World(images)) as server:
            assert run_cli(server, images, out, "--concurrency", "1" if run == "one" else "8") == 0
        outputs.append((out.read_bytes(), out.with_name("qa.rejects.jsonl").read_bytes()))
    assert outputs[0] == outputs[1]


def test_endpoint_failures_leave_the_image_undone_and_a_rerun_finishes_it(images, tmp_path):
    world = World(images)
    world.fail[("a_plain", "answer_image")] = Reply("late", delay=2.0)  # past --timeout 0.5
    world.fail[("nested", "cot")] = Reply(status=500, body='{"error": "boom"}')
    out = tmp_path / "qa.jsonl"
    with ChatServer(world) as server:
        assert run_cli(server, images, out, "--timeout", "0.5") == 1  # 1: some images need a re-run
    done = {r["image"] for r in read_jsonl(out.with_name("qa.done.jsonl"))}
    assert done == set(SCENES) - {"a_plain.png", "b_sub/nested.png"} | set(BAD_IMAGES)
    failures = {r["image"]: r for r in read_jsonl(out.with_name("qa.rejects.jsonl")) if r["kind"] == "endpoint_error"}
    assert failures["a_plain.png"]["stage"] == "verify" and "timeout" in failures["a_plain.png"]["reason"]
    assert failures["b_sub/nested.png"]["stage"] == "cot" and "HTTP 500" in failures["b_sub/nested.png"]["reason"]
    assert all(r["retry"] for r in failures.values())
    assert not [r for r in read_jsonl(out) if r["image_path"] in failures]  # no partial images in the output
    first_calls = len(world.calls)

    world.fail.clear()
    with ChatServer(world) as server:
        assert run_cli(server, images, out) == 0
    again = Counter(world.calls[first_calls:])
    # Only the calls that never got a usable reply go out again; everything else comes from the cache.
    assert set(again) == {("a_plain", "answer_image"), ("a_plain", "judge"), ("a_plain", "cot"), ("nested", "cot")}
    rows = read_jsonl(out)
    assert Counter(r["image_path"] for r in rows) == +Counter(EXPECTED_ROWS)
    assert not [r for r in read_jsonl(out.with_name("qa.rejects.jsonl")) if r["kind"] == "endpoint_error"]
    summary = json.loads(out.with_name("qa.summary.json").read_text())
    assert summary["images"]["done"] == 10 and summary["images"]["done_before_this_run"] == 8


def test_a_dead_server_stops_the_run_after_max_failures(images, tmp_path):
    out = tmp_path / "qa.jsonl"
    with ChatServer(lambda request: Reply(status=503, body="{}")) as server:
        assert run_cli(server, images, out, "--concurrency", "1", "--max-failures", "2") == 1
        assert len(server.requests) == 2  # one caption per failed image, then no new image is started
    summary = json.loads(out.with_name("qa.summary.json").read_text())
    assert summary["images"]["failed_this_run"] == 2 and "--max-failures 2" in summary["this_run"]["stopped"]
    assert summary["images"]["left"] == 10 - summary["images"]["done"]


def test_api_keys_come_from_named_variables_and_are_never_written(images, tmp_path, monkeypatch, capsys):
    secret = "sk-test-do-not-leak-8c1f"
    monkeypatch.setenv("SYNTH_TEST_KEY", secret)
    out = tmp_path / "qa.jsonl"
    with ChatServer(World(images)) as server:
        assert (
            run_cli(server, images, out, "--vlm-key-env", "SYNTH_TEST_KEY", "--reasoner-key-env", "SYNTH_TEST_KEY") == 0
        )
        assert {h.get("Authorization") for h in server.headers} == {f"Bearer {secret}"}
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    summary = json.loads(out.with_name("qa.summary.json").read_text())
    assert summary["config"]["endpoints"]["vlm"]["api_key_env"] == "SYNTH_TEST_KEY"

    monkeypatch.delenv("SYNTH_TEST_KEY")
    with pytest.raises(SystemExit) as exit_info:  # a named variable that is not set: a usage error naming it
        run_cli(server, images, tmp_path / "other.jsonl", "--vlm-key-env", "SYNTH_TEST_KEY")
    assert exit_info.value.code == 2 and "SYNTH_TEST_KEY" in capsys.readouterr().err


def test_endpoint_concurrency_bounds_requests_in_flight(images, tmp_path):
    world, lock = World(images), threading.Lock()
    in_flight, peak = [0], [0]

    def script(request):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.02)
        try:
            return world(request)
        finally:
            with lock:
                in_flight[0] -= 1

    with ChatServer(script) as server:
        assert run_cli(server, images, tmp_path / "qa.jsonl", "--concurrency", "6", "--endpoint-concurrency", "2") == 0
    assert peak[0] == 2  # vlm and reasoner share this one server, so they share its 2 slots


def test_limit_takes_the_first_images_and_the_next_run_the_rest(images, tmp_path):
    world, out = World(images), tmp_path / "qa.jsonl"
    with ChatServer(world) as server:
        assert run_cli(server, images, out, "--limit", "3") == 0
        first = len(world.calls)
        assert {key for key, _ in world.calls} == {"a_plain", "nested", "c_refuse"}
        assert run_cli(server, images, out) == 0
    assert not {key for key, _ in world.calls[first:]} & {"a_plain", "nested", "c_refuse"}
    assert Counter(r["image_path"] for r in read_jsonl(out)) == +Counter(EXPECTED_ROWS)


def test_killed_run_resumes_without_loss_duplicates_or_resent_calls(images, tmp_path):
    """Kill -9 a CLI subprocess while it waits on a model, re-run the same command, compare with a clean run."""
    reference = tmp_path / "reference" / "qa.jsonl"
    with ChatServer(World(images)) as server:
        assert run_cli(server, images, reference, "--concurrency", "1") == 0

    world = World(images)
    world.stall_on = ("e_invalid", "cot")  # a-d are done, e has every stage but the cot cached
    out = tmp_path / "killed" / "qa.jsonl"
    with ChatServer(world) as server:
        args = [
            sys.executable, "-m", "data_prep.synthesize", "--images", str(images), "--out", str(out),
            "--vlm-url", server.base_url, "--vlm-model", VLM, "--reasoner-url", server.base_url,
            "--reasoner-model", REASONER, "--concurrency", "1", "--timeout", "30", "--retries", "0", "--no-progress",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        process = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert world.stalled.wait(60), process.communicate(timeout=5)
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        finally:
            world.release.set()
    done_before = {r["image"] for r in read_jsonl(out.with_name("qa.done.jsonl"))}
    assert done_before == {"a_plain.png", "b_sub/nested.png", "c_refuse.png", "d_badjson.png"}
    seen_before = set(world.calls)

    world.stall_on, first = None, len(world.calls)
    with ChatServer(world) as server:
        assert run_cli(server, images, out) == 0
    resent = world.calls[first:]
    assert not [c for c in resent if c[0] in {"a_plain", "nested", "c_refuse", "d_badjson"}]  # finished: untouched
    assert [c for c in resent if c[0] == "e_invalid"] == [("e_invalid", "cot")]  # only the call that was cut
    assert all(c not in seen_before or c == ("e_invalid", "cot") for c in resent)
    assert out.read_bytes() == reference.read_bytes()  # no loss, no duplicates, same order
    assert out.with_name("qa.rejects.jsonl").read_bytes() == reference.with_name("qa.rejects.jsonl").read_bytes()


def test_output_prepares_into_verl_parquet_and_loads_through_verl(images, tmp_path, tiny_vl_dir):
    """Synthesized rows go through `data_prep.wethink.prepare` unchanged, load with verl's own dataset loader, and
    the training reward scores each row's own reasoning path + answer as fully correct."""
    from verl.trainer.ppo.utils import create_rl_dataset
    from verl.utils import hf_processor, hf_tokenizer

    from data_prep.wethink import prepare
    from rewards.hybrid import compute_score

    out = tmp_path / "qa.jsonl"
    with ChatServer(World(images)) as server:
        assert run_cli(server, images, out) == 0
        rows = read_jsonl(out)
        summary = prepare(out, images, tmp_path / "prepared", val_size=2, workers=1, progress=False)
        assert summary["in"] == len(rows) and summary["rejects"] == 0
        assert summary["train"] + summary["val"] == len(rows)

        cfg = compose_verl(*WETHINK_DATASET)
        files = [str(tmp_path / "prepared" / name) for name in ("train.parquet", "val.parquet")]
        dataset = create_rl_dataset(
            files, cfg.data, hf_tokenizer(tiny_vl_dir), hf_processor(tiny_vl_dir), is_train=True
        )
        assert type(dataset).__name__ == "WeThinkDataset" and len(dataset) == len(rows)
        by_problem = {r["problem"]: r for r in rows}
        routes = Counter()
        for i in range(len(dataset)):
            item = dataset[i]
            source = by_problem[item["extra_info"]["question"]]
            system, user = item["raw_prompt"][0], item["raw_prompt"][-1]
            assert system["role"] == "system" and text_of(system["content"]) == schema.SYSTEM_PROMPT
            assert [part["type"] for part in user["content"]][0] == "image"  # verl filled the <image> with the file
            assert source["problem"] in text_of(user["content"])
            assert item["reward_model"]["ground_truth"] == source["answer"]
            assert item["extra_info"]["category"] == schema.map_category(source["category"])
            assert item["extra_info"]["reward_method"] == source["reward"]
            assert item["extra_info"]["image_path"] == [source["image_path"]]
            response = f"<think>{source['refined_cot']}</think><answer>{source['answer']}</answer>"
            scored = asyncio.run(
                compute_score(
                    item["data_source"], response, item["reward_model"]["ground_truth"], item["extra_info"],
                    judge_url=server.base_url, judge_model=REASONER, judge_retries=0,
                )
            )  # fmt: skip
            assert (scored["acc"], scored["format"]) == (1.0, 1.0), (source, scored)
            routes.update({"rule": scored["route_rule"], "model": scored["route_model"]})
        assert routes["rule"] > 0 and routes["model"] > 0  # both reward routes were exercised
