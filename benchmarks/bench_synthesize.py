"""Synthesis throughput against a loopback OpenAI-compatible server with injected latency, as concurrency grows.

    python benchmarks/bench_synthesize.py [--latency 0.1] [--levels 1 4 16 64] [--images-per-level N]

Every model call costs `--latency` seconds on the server (tests/openai_server.py, a real HTTP server on
127.0.0.1, in its own process so it does not compete with the pipeline for the GIL), so the pipeline's own
overhead and its scheduling are what is measured. The ideal at concurrency
C is C requests always in flight: C / (calls per image x latency) images per second. Printed per level:
images/minute measured, the ideal, and their ratio. A last line re-runs the largest level against its warm
stage cache (a restarted or repeated run), where no request should go out at all.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_prep.synthesize import SynthesisConfig, synthesize  # noqa: E402
from rewards.chat_client import ChatEndpoint  # noqa: E402
from tests.openai_server import ChatServer, Reply, last_user_text  # noqa: E402

QUESTIONS = json.dumps(
    {
        "questions": [
            {"type": "multiple choice", "question": "Which colour fills the frame?", "options": ["red", "green"],
             "abilities": ["Reasoning", "Recognition"]},
            {"type": "fill-in-the-blank", "question": "How many squares are there?",
             "abilities": ["Reasoning", "Math"]},
            {"type": "descriptive", "question": "Describe the image.", "abilities": ["Reasoning", "Recognition"]},
        ]
    }
)  # fmt: skip


def scripted_model(latency: float):
    """Well-formed replies for every stage, each after `latency` seconds: every image yields three rows."""

    def answer(text: str) -> str:
        return "A" if "Which colour" in text else "1" if "How many" in text else "A red square."

    def reply(request: dict) -> Reply:
        text = last_user_text(request)
        if "Describe this image in detail" in text:
            content = "A red square."
        elif "still missing" in text:
            content = '{"ask": []}' if "Q:" in text else '{"ask": ["Is there any text?"]}'
        elif "follow-up question" in text:
            content = "No text."
        elif "final fine-grained description" in text:
            content = "A red square, no text."
        elif "You write questions" in text:
            content = QUESTIONS
        elif "<candidate_answer>" in text:
            content = "1"
        elif "Rewrite the reasoning" in text:
            final = re.search(r"Final answer: (.*)", text).group(1)
            content = f"The frame is one red square. <answer>{final}</answer>"
        else:  # the reasoner's and the vision model's answers
            content = f"The square is red. <answer>{answer(text)}</answer>"
        return Reply(content, delay=latency)

    return reply


def serve(latency: float, conn) -> None:
    """Run the scripted server in this (child) process until the parent says stop."""
    with ChatServer(scripted_model(latency)) as server:
        conn.send(server.base_url)
        conn.recv()


def make_images(root: Path, count: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", (32 + i % 64, 32 + i // 64), (200, 30, 30)).save(root / f"img_{i:04d}.png")


def run_level(base_url: str, images: Path, out: Path, concurrency: int, cache_dir: Path) -> tuple[float, dict]:
    endpoint = ChatEndpoint(base_url, "bench", timeout=60, retries=0)
    config = SynthesisConfig(
        images=images,
        out=out,
        endpoints={"vlm": endpoint, "reasoner": endpoint},
        concurrency=concurrency,
        cache_dir=cache_dir,
        progress=False,
    )
    start, cpu_start = time.perf_counter(), time.process_time()
    summary = synthesize(config)
    summary["cpu_s"] = time.process_time() - cpu_start  # this process only: the server runs in another
    return time.perf_counter() - start, summary


def calls_sent(summary: dict) -> int:
    return sum(summary["this_run"]["calls"].values())


def run_all(args: argparse.Namespace, base_url: str, tmp_path: Path) -> None:
    last = None
    for concurrency in args.levels:
        count = args.images_per_level or max(8, 2 * concurrency)
        images = tmp_path / f"images_{concurrency}"
        make_images(images, count)
        out, cache = tmp_path / f"c{concurrency}" / "qa.jsonl", tmp_path / f"c{concurrency}" / "cache"
        wall, summary = run_level(base_url, images, out, concurrency, cache)
        assert summary["rows"] == 3 * count, summary  # every image made it through every stage
        per_image = calls_sent(summary) / count
        measured = 60 * count / wall
        ideal = 60 * concurrency / (per_image * args.latency)
        cpu_ms = 1000 * summary["cpu_s"] / calls_sent(summary)
        print(
            f"{concurrency:>4} {count:>7} {per_image:>9.1f} {wall:>7.2f} {measured:>9.1f} {ideal:>9.1f} "
            f"{measured / ideal:>6.2f} {cpu_ms:>11.2f}"
        )
        last = (images, concurrency, count, cache)
    images, concurrency, count, cache = last
    wall, summary = run_level(base_url, images, tmp_path / "warm" / "qa.jsonl", concurrency, cache)
    print(
        f"warm cache, C={concurrency}: {count} images in {wall:.2f}s ({60 * count / wall:.0f} img/min), "
        f"{calls_sent(summary)} calls sent, {sum(summary['this_run']['cache_hits'].values())} cache hits"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per model call on the server")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--images-per-level", type=int, help="default: max(8, 2 x concurrency)")
    args = parser.parse_args(argv)

    print(
        f"loopback server, {args.latency * 1000:.0f} ms per call; one server for both roles, "
        "so at most C calls in flight"
    )
    print(
        f"{'C':>4} {'images':>7} {'calls/img':>9} {'wall s':>7} {'img/min':>9} {'ideal':>9} {'ratio':>6} "
        f"{'cpu ms/call':>11}"
    )
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(args.latency, child), daemon=True)
    server.start()
    base_url = parent.recv()
    try:
        with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
            run_all(args, base_url, Path(tmp))
    finally:
        parent.send("stop")
        server.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
