"""The synthesis pipeline's parts on their own: strict question validation, reply parsing, agreement, prompt
templates, image checks, and the run files' repair after a crash."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from data_prep import schema
from data_prep.synthesize import images as image_files
from data_prep.synthesize.agreement import agrees, canonical_answer, rule_agrees
from data_prep.synthesize.cli import build_parser
from data_prep.synthesize.config import SynthesisConfig
from data_prep.synthesize.models import EndpointError, Models
from data_prep.synthesize.questions import Question, validate
from data_prep.synthesize.replies import Rejected, is_refusal, parse_json_object, split_answer
from data_prep.synthesize.store import RunStore, StageCache
from data_prep.synthesize.templates import PLACEHOLDERS, PromptError, Prompts
from rewards.chat_client import ChatEndpoint
from tests.openai_server import ChatServer, Reply

MC = {"type": "Multiple Choice", "question": "Which sign is red?", "options": ["A. stop", "B) yield", "exit"],
      "abilities": ["OCR", "reasoning"]}  # fmt: skip


def rejected_kind(item) -> str:
    with pytest.raises(Rejected) as info:
        validate(0, item)
    return info.value.kind


# -- question validation -------------------------------------------------------------------------------------
def test_valid_multiple_choice_gets_lettered_options_and_canonical_labels():
    question = validate(2, MC)
    assert question.options == ("stop", "yield", "exit")  # a model's own matching letter prefix is dropped
    assert question.abilities == ("Reasoning", "OCR")
    assert question.problem == "Which sign is red?\nA. stop\nB. yield\nC. exit"
    assert (question.label, question.reward) == ("multiple choice", "rule")
    assert schema.map_category(question.label) == schema.MULTIPLE_CHOICE


@pytest.mark.parametrize(
    "raw_type, category, reward",
    [("fill-in-the-blank", schema.FILL_IN_BLANK, "rule"), ("Descriptive", schema.DESCRIPTIVE, "model")],
)
def test_other_types_map_to_schema_labels(raw_type, category, reward):
    question = validate(0, {"type": raw_type, "question": "q?", "abilities": ["Reasoning", "Math"]})
    assert question.category == category and question.reward == reward and question.options == ()
    assert schema.map_category(question.label) == category and schema.map_reward_method(question.reward) == reward


@pytest.mark.parametrize(
    "change, kind",
    [
        ({"abilities": ["OCR", "Math"]}, "no_reasoning"),
        ({"abilities": ["Reasoning"]}, "no_second_ability"),
        ({"abilities": ["Reasoning", "Telepathy"]}, "unknown_ability"),
        ({"abilities": "Reasoning, OCR"}, "bad_abilities"),
        ({"type": "numeric"}, "bad_type"),
        ({"type": "essay"}, "bad_type"),
        ({"type": None}, "bad_type"),
        ({"question": "  "}, "empty_question"),
        ({"question": "x" * 1001}, "too_long"),
        ({"options": ["only one"]}, "bad_options"),
        ({"options": ["same", "Same"]}, "bad_options"),
        ({"options": ["a", ""]}, "bad_options"),
        ({"options": "A. a B. b"}, "bad_options"),
        ({"options": [str(i) for i in range(7)]}, "bad_options"),
        ({"answer": "A"}, "unexpected_keys"),
    ],
)
def test_constraint_violations_are_rejected_with_their_rule(change, kind):
    assert rejected_kind({**MC, **change}) == kind


def test_non_choice_question_with_options_and_non_object_are_rejected():
    assert rejected_kind({"type": "descriptive", "question": "q", "abilities": ["Reasoning", "OCR"],
                          "options": ["a", "b"]}) == "unexpected_options"  # fmt: skip
    assert rejected_kind(["not", "an", "object"]) == "not_an_object"


# -- replies -------------------------------------------------------------------------------------------------
def test_json_reply_is_bare_or_one_fenced_block_and_nothing_else():
    assert parse_json_object("s", '{"ask": []}') == {"ask": []}
    assert parse_json_object("s", '```json\n{"ask": ["x"]}\n```') == {"ask": ["x"]}
    for bad, kind in [
        ('Sure! {"ask": []}', "malformed_json"),
        ('["a list"]', "malformed_json"),
        ('{"ask": [', "malformed_json"),
        ("", "empty_reply"),
        ("I'm sorry, I can't assist with that.", "refusal"),
    ]:
        with pytest.raises(Rejected) as info:
            parse_json_object("s", bad)
        assert info.value.kind == kind


def test_split_answer_takes_the_last_answer_block():
    assert split_answer("s", "First 2, then 3.\n<answer>3</answer>") == ("First 2, then 3.", "3")
    assert split_answer("s", "<answer>x</answer> no, <answer>y</answer>") == ("<answer>x</answer> no,", "y")
    for bad, kind in [("just text", "no_answer_tag"), ("why <answer> </answer>", "empty_answer")]:
        with pytest.raises(Rejected) as info:
            split_answer("s", bad)
        assert info.value.kind == kind


def test_refusals_are_recognised_but_ordinary_text_is_not():
    assert is_refusal("I'm sorry, but I cannot help with that.") and is_refusal("As an AI, I can't see images")
    assert not is_refusal("A sorry-looking dog sits on a bench.") and not is_refusal("Cannot-shaped sign")


# -- agreement -----------------------------------------------------------------------------------------------
async def test_rule_agreement_uses_the_training_verifiers():
    mc = validate(0, MC)
    assert canonical_answer(mc, "(B) yield") == "B" and canonical_answer(mc, "exit") == "C"
    assert canonical_answer(mc, "A or B") is None
    assert await rule_agrees(mc, "B. yield", "B") and not await rule_agrees(mc, "A", "B")
    blank = Question(0, schema.FILL_IN_BLANK, "How many?", (), ("Reasoning", "Math"))
    assert await rule_agrees(blank, "1,000 people", "1000")
    assert await rule_agrees(blank, "three", "3") and not await rule_agrees(blank, "3 or 4", "3")
    assert await rule_agrees(blank, "The Red Car.", "red car") and not await rule_agrees(blank, "blue car", "red car")


async def test_descriptive_agreement_needs_the_top_tier_and_a_strict_verdict(tmp_path):
    question = Question(0, schema.DESCRIPTIVE, "Describe it.", (), ("Reasoning", "Recognition"))
    image = image_files.EncodedImage("x.png", "d" * 64, "data:image/png;base64,", 1, 1)
    replies = iter(["1", "0.5", "The answers match, so 1"])
    with ChatServer(lambda request: Reply(next(replies))) as server:
        endpoint = ChatEndpoint(server.base_url, "judge", timeout=5, retries=0)
        calls = Models({"judge": endpoint}, StageCache(None)).about(image)
        assert await agrees(calls, question, "A red square.", "One red square.")
        assert not await agrees(calls, question, "A square.", "One red square.")
        with pytest.raises(Rejected, match="judge_unparseable"):
            await agrees(calls, question, "Square.", "One red square.")
        assert server.requests[0]["messages"][0]["role"] == "system"  # the training judge's own prompt
        await calls.models.aclose()


# -- models: cache and errors --------------------------------------------------------------------------------
async def test_replies_are_cached_per_image_and_errors_are_not(tmp_path):
    def script(request):
        return Reply(status=500, body="{}") if "fail" in str(request["messages"]) else Reply("ok")

    one = image_files.EncodedImage("a.png", "a" * 64, "data:image/png;base64,AAAA", 1, 1)
    two = image_files.EncodedImage("b.png", "b" * 64, "data:image/png;base64,BBBB", 1, 1)
    with ChatServer(script) as server:
        endpoint = ChatEndpoint(server.base_url, "m", timeout=5, retries=0)
        models = Models({"vlm": endpoint, "reasoner": endpoint}, StageCache(tmp_path / "cache"))
        assert await models.ask("reasoner", "questions", "same text", one) == "ok"
        assert await models.ask("reasoner", "questions", "same text", one) == "ok"
        assert await models.ask("reasoner", "questions", "same text", two) == "ok"  # another image: its own call
        assert await models.ask("vlm", "caption", "same text", one) == "ok"
        assert len(server.requests) == 3 and models.cache_hits == Counter({"questions": 1})
        assert server.requests[2]["messages"][0]["content"][0]["image_url"]["url"] == one.data_url
        for _ in range(2):
            with pytest.raises(EndpointError) as info:
                await models.ask("reasoner", "cot", "fail", one)
        assert info.value.stage == "cot" and "HTTP 500" in str(info.value) and len(server.requests) == 5
        await models.aclose()


# -- prompts -------------------------------------------------------------------------------------------------
def test_default_prompts_fill_and_overrides_replace_by_name(tmp_path):
    prompts = Prompts()
    assert set(prompts.sources) == set(PLACEHOLDERS)
    text = prompts.render("questions", description="a {json} $dollar", count=3)
    assert "a {json} $dollar" in text and '{"questions": [' in text
    (tmp_path / "caption.txt").write_text("Caption it, literally $$5.")
    override = Prompts(tmp_path)
    assert (
        override.render("caption") == "Caption it, literally $5." and override.sources["cot"] == prompts.sources["cot"]
    )


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("questions.txt", "Write $count questions.", "missing ['description']"),
        ("caption.txt", "Describe $image.", "unknown ['image']"),
        ("caption.txt", "Costs $ 5", "invalid placeholder"),
        ("captoin.txt", "typo in the file name", "unknown template"),
    ],
)
def test_broken_prompt_overrides_fail_at_start_naming_the_file(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(PromptError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Prompts(tmp_path)


# -- images --------------------------------------------------------------------------------------------------
def test_discover_is_sorted_recursive_and_skips_hidden_and_other_files(tmp_path):
    for rel in ["b.png", "a/z.JPG", "a/c.webp", ".hidden/x.png", "a/.y.png", "notes.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    assert image_files.discover(tmp_path) == ["a/c.webp", "a/z.JPG", "b.png"]
    with pytest.raises(FileNotFoundError, match="not a directory"):
        image_files.discover(tmp_path / "missing")


def test_bad_images_are_refused_with_a_reason(tmp_path):
    Image.new("RGB", (8, 8), "red").save(tmp_path / "ok.png")
    good = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello")
    (tmp_path / "cut.png").write_bytes(good[:40])
    for name, reason in [("empty.png", "empty file"), ("text.jpg", "format not recognised"),
                         ("cut.png", "not a readable image"), ("gone.png", "unreadable")]:  # fmt: skip
        with pytest.raises(image_files.BadImage, match=reason):
            image_files.load(tmp_path, name)


def test_images_are_sent_as_is_or_re_encoded_when_needed(tmp_path):
    Image.new("RGB", (40, 20), "blue").save(tmp_path / "a.png")
    Image.new("RGB", (40, 20), "blue").save(tmp_path / "b.bmp")
    as_is = image_files.load(tmp_path, "a.png")
    assert base64.b64decode(as_is.data_url.split(",", 1)[1]) == (tmp_path / "a.png").read_bytes()
    bmp = image_files.load(tmp_path, "b.bmp")
    assert bmp.data_url.startswith("data:image/png;base64,")  # a format every server reads
    small = image_files.load(tmp_path, "a.png", max_pixels=200)
    assert small.width * small.height <= 200 and small.width / small.height == pytest.approx(2, rel=0.2)
    assert small.digest != as_is.digest


# -- run files -----------------------------------------------------------------------------------------------
def test_stage_cache_survives_a_corrupt_entry(tmp_path):
    cache = StageCache(tmp_path)
    cache.put("ab" * 32, "caption", "m", "reply")
    assert cache.get("ab" * 32) == "reply" and cache.get("cd" * 32) is None
    (tmp_path / "ab" / f"{'ab' * 32}.json").write_text('{"reply": ')  # a torn file is a miss, not a crash
    assert cache.get("ab" * 32) is None
    assert not list(tmp_path.rglob("*.tmp"))


def test_open_run_drops_unfinished_images_and_cut_lines(tmp_path):
    out = tmp_path / "qa.jsonl"
    store = RunStore(out)
    store.open_run()
    store.commit("a.png", [{"image_path": "a.png", "n": 1}], [{"image": "a.png", "stage": "cot"}], {"rows": 1})
    with open(out, "a") as handle:  # killed after writing b's rows, before its done record; then mid-line
        handle.write(json.dumps({"image_path": "b.png", "n": 2}) + "\n" + '{"image_path": "c.p')
    store.record_failure([{"image": "b.png", "stage": "verify", "kind": "endpoint_error"}])
    done = RunStore(out).open_run()
    assert set(done) == {"a.png"}
    assert [json.loads(line) for line in out.read_text().splitlines()] == [{"image_path": "a.png", "n": 1}]
    rejects = tmp_path / "qa.rejects.jsonl"
    assert [json.loads(line)["image"] for line in rejects.read_text().splitlines()] == ["a.png"]


def test_finalize_sorts_by_image_order_and_foreign_output_is_refused(tmp_path):
    out = tmp_path / "qa.jsonl"
    store = RunStore(out)
    store.open_run()
    for image, n in [("b.png", 1), ("a.png", 2), ("b.png", 3)]:
        store.commit(image, [{"image_path": image, "n": n}], [], {"rows": 1})
    store.finalize({"a.png": 0, "b.png": 1}, {"rows": 3})
    assert [json.loads(line)["n"] for line in out.read_text().splitlines()] == [2, 1, 3]
    assert json.loads((tmp_path / "qa.summary.json").read_text()) == {"rows": 3}
    foreign = tmp_path / "theirs.jsonl"
    foreign.write_text('{"problem": "not ours"}\n')
    with pytest.raises(FileExistsError, match="not a resumable synthesis run"):
        RunStore(foreign).open_run()
    assert Path(foreign).read_text() == '{"problem": "not ours"}\n'


def test_the_cli_defaults_are_the_configs_and_the_endpoints_own():
    """A run started from the command line with no options gets what a SynthesisConfig built in code gets."""
    endpoints = ["--vlm-url", "u", "--vlm-model", "m", "--reasoner-url", "u", "--reasoner-model", "m"]
    args = build_parser().parse_args(["--images", "i", "--out", "o", *endpoints])
    plain = SynthesisConfig(Path("i"), Path("o"), {"vlm": ChatEndpoint("u", "m"), "reasoner": ChatEndpoint("u", "m")})
    for name in ("refine_turns", "questions_per_image", "concurrency", "max_pixels", "max_failures"):
        assert getattr(args, name) == getattr(plain, name), name
    assert {"temperature": args.temperature, "seed": args.seed} == plain.params
    assert args.retries == ChatEndpoint("u", "m").retries
    changed = build_parser().parse_args(["--images", "i", "--out", "o", *endpoints, "--concurrency", "3"])
    assert changed.concurrency != plain.concurrency  # negative control: an option the user sets does differ
