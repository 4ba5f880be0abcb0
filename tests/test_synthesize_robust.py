"""Synthesis against servers that misbehave on the wire, through the CLI and a REAL loopback HTTP server.

A reply body that does not decode (a wrong `Content-Encoding`) is a failed attempt, retried and counted, never a
crash; a reply with empty `content` and its text in `reasoning_content` is rejected with its own reason, so the
image is done instead of failing on every re-run; call counts include retries; `--help` says that re-running
resumes and shows defaults; output files follow the user's umask.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from data_prep.synthesize.cli import main
from tests.openai_server import completion, last_user_text

QUESTIONS = json.dumps(
    {
        "questions": [
            {"type": "multiple choice", "question": "Which colour fills the frame?", "options": ["red", "blue"],
             "abilities": ["Reasoning", "Recognition"]},
            {"type": "fill-in-the-blank", "question": "How many squares are there?",
             "abilities": ["Reasoning", "Math"]},
        ]
    }
)  # fmt: skip


def well_formed(text: str) -> str:
    """A model that answers every stage correctly: each image yields two rows."""
    if "Describe this image in detail" in text:
        return "A red square."
    if "still missing" in text:
        return '{"ask": []}'
    if "You write questions" in text:
        return QUESTIONS
    if "Rewrite the reasoning" in text:
        return f"The frame is one red square. <answer>{re.search(r'Final answer: (.*)', text).group(1)}</answer>"
    return f"The square is red. <answer>{'A' if 'Which colour' in text else '1'}</answer>"


class WireServer:
    """Loopback HTTP server; `misbehave(image, text)` may return (headers, body) to send instead of a good reply."""

    def __init__(self, images: Path, misbehave):
        self.names = {hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in images.iterdir()}
        self.misbehave, self.calls, self.lock = misbehave, [], threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: avoid delayed-ACK stalls

            def log_message(self, *args):
                pass

            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                text, image = last_user_text(request), server.image_of(request)
                with server.lock:
                    server.calls.append((image, text.split("\n")[0][:40]))
                    odd = server.misbehave(image, text)
                headers, body = odd or ({}, completion(well_formed(text)).encode())
                self.send_response(200)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()  # quick shutdown
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def image_of(self, request: dict) -> str | None:
        content = request["messages"][-1]["content"]
        if isinstance(content, list):
            url = next(p["image_url"]["url"] for p in content if p.get("type") == "image_url")
            return self.names[hashlib.sha256(base64.b64decode(url.split(",", 1)[1])).hexdigest()]
        return None  # text-only calls

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def images(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    for i, name in enumerate(["a.png", "b.png"]):
        Image.new("RGB", (24 + i, 16), "red").save(root / name)  # sizes differ, so the bytes tell them apart
    return root


def run(server: WireServer, images: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "--images", str(images), "--out", str(out), "--vlm-url", server.base_url, "--vlm-model", "vlm",
            "--reasoner-url", server.base_url, "--reasoner-model", "reasoner", "--timeout", "5",
            "--concurrency", "1", "--refine-turns", "1", "--questions-per-image", "2", "--no-progress", *extra,
        ]
    )  # fmt: skip


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


GZIP_LIE = ({"Content-Encoding": "gzip"}, completion("A red square.").encode())  # plain bytes labelled gzip


def test_an_undecodable_body_is_a_failed_attempt_retried_and_counted(images, tmp_path):
    sent = {"b.png": 0}

    def first_caption_of_b_lies(image, text):
        if image == "b.png" and "Describe this image in detail" in text:
            sent["b.png"] += 1
            return GZIP_LIE if sent["b.png"] == 1 else None
        return None

    server = WireServer(images, first_caption_of_b_lies)
    try:
        out = tmp_path / "retried" / "qa.jsonl"
        assert run(server, images, out, "--retries", "1") == 0  # the retry got a good body
        summary = json.loads(out.with_name("qa.summary.json").read_text())
        assert summary["images"]["done"] == 2 and summary["rows"] == 4
        run_info = summary["this_run"]
        assert run_info["calls"]["caption"] == 3 and run_info["retries"] == {"caption": 1}  # 2 images + 1 retry
        assert sum(run_info["calls"].values()) == len(server.calls)  # every request on the wire is counted
        [(reason, count)] = run_info["attempt_errors"].items()
        assert count == 1 and reason.startswith("undecodable reply body")

        server.misbehave = lambda image, text: GZIP_LIE if image == "b.png" else None  # b's vision calls always lie
        out = tmp_path / "failing" / "qa.jsonl"
        assert run(server, images, out, "--retries", "1") == 1  # not a crash: b failed, a is done, re-run later
        summary = json.loads(out.with_name("qa.summary.json").read_text())
        assert summary["images"]["done"] == 1 and summary["this_run"]["failed_images"] == ["b.png"]
        assert summary["this_run"]["calls"]["caption"] == 3 and summary["this_run"]["retries"] == {"caption": 1}
        [failure] = [r for r in read_jsonl(out.with_name("qa.rejects.jsonl")) if r["image"] == "b.png"]
        assert failure["kind"] == "endpoint_error" and failure["retry"]
        assert "undecodable reply body" in failure["reason"]
    finally:
        server.close()


@pytest.mark.parametrize("content", [None, ""], ids=["null", "empty"])
def test_a_reasoning_only_reply_is_rejected_with_its_own_reason_and_the_image_is_done(images, tmp_path, content):
    reasoning_only = json.dumps(
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "reasoning_content": "Let me look at th"},
                    "finish_reason": "length",
                }
            ]
        }
    ).encode()

    def b_caption_thinks_aloud(image, text):
        return ({}, reasoning_only) if image == "b.png" and "Describe this image" in text else None

    server = WireServer(images, b_caption_thinks_aloud)
    try:
        out = tmp_path / "qa.jsonl"
        assert run(server, images, out, "--retries", "0") == 0
        [record] = [r for r in read_jsonl(out.with_name("qa.rejects.jsonl")) if r["image"] == "b.png"]
        assert (record["stage"], record["kind"]) == ("caption", "reasoning_only")
        assert "reasoning_content" in record["reason"] and "finish_reason length" in record["reason"]
        assert "--max-tokens" in record["reason"]
        assert {r["image"] for r in read_jsonl(out.with_name("qa.done.jsonl"))} == {"a.png", "b.png"}
        before = len(server.calls)
        assert run(server, images, out, "--retries", "0") == 0  # the same command again: nothing left to do
        assert len(server.calls) == before
    finally:
        server.close()


def test_help_says_that_rerunning_resumes_and_shows_defaults(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "re-running the same command continues a stopped run" in text
    for option, default in [("images processed at once", 8), ("seconds per request attempt", 120.0),
                            ("retries per request", 2), ("sampling temperature of every request", 0.0)]:  # fmt: skip
        assert re.search(rf"{option}[^()]*(\([^)]*\))? \(default: {default}\)", text), option
    assert "(default: None)" not in text and "(default: False)" not in text


def test_a_symlink_out_of_the_image_folder_is_a_reject_and_its_bytes_are_never_sent(images, tmp_path):
    secret = tmp_path / "secret.png"
    Image.new("RGB", (31, 17), "blue").save(secret)
    (images / "c_link.png").symlink_to(secret)
    server = WireServer(images, lambda image, text: None)
    try:
        out = tmp_path / "qa.jsonl"
        assert run(server, images, out) == 0
    finally:
        server.close()
    [record] = [r for r in read_jsonl(out.with_name("qa.rejects.jsonl")) if r["image"] == "c_link.png"]
    assert record["stage"] == "image" and "outside --images" in record["reason"]
    assert {image for image, _ in server.calls if image} == {"a.png", "b.png"}  # no request carried its bytes


@pytest.mark.parametrize("umask", [0o022, 0o007])
def test_output_files_follow_the_umask(images, tmp_path, umask):
    server = WireServer(images, lambda image, text: None)
    previous = os.umask(umask)
    try:
        out = tmp_path / "qa.jsonl"
        assert run(server, images, out) == 0
    finally:
        os.umask(previous)
        server.close()
    files = [p for p in tmp_path.rglob("*") if p.is_file() and "images" not in p.parts]
    assert {p.name for p in files} >= {"qa.jsonl", "qa.rejects.jsonl", "qa.done.jsonl", "qa.summary.json"}
    assert any(p.parent.parent.name == "qa.cache" for p in files)  # the stage cache too
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path
