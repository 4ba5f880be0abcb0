"""Benchmark of the reward under hostile input (issue 26; a script, not a test): figures before and after.

1. Worst event-loop CPU of one `compute_score` call per class of hostile answer (tests/hostile_answers.py), the
   judge route against a loopback judge, plus a judge reply of many `<think>` tags and a 64 MB judge reply. Each
   class runs in its own process, once with the reward of `--baseline` (a git revision, default the one before
   issue 26; extracted to a temporary folder) and once with this checkout's: the ratio is measured in the same
   run. A class of the baseline that runs past `--class-timeout` shows as ">".
2. The math pool under bombs: `--bombs` sympy bombs queued before `--ordinary` ordinary math answers, all at once
   on one event loop: peak RSS per worker process and the longest wait of an ordinary answer, before and after.

Usage: python benchmarks/bench_reward_hostile.py [--baseline REV] [--seeds 3] [--class-timeout 60] [--classes ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINE = "29340ba"  # the last commit before issue 26's reward changes
RESPONSE_CHARS = 2048 * 64  # max_response_length 2048 tokens, each as long as any BPE token
WHOLE_RESPONSE = ("fence_tag", "special_token", "end_marker", "long_response")
EXTRA = ("think_tags", "judge_reply_64MB")


# --- the measuring side (runs in a subprocess with PYTHONPATH = the reward under test, then this repository) ----


def _size(name: str) -> int:
    return RESPONSE_CHARS if name in WHOLE_RESPONSE else 4096


async def _measure_class(name: str, seeds: int) -> None:
    from rewards.hybrid import compute_score
    from tests.hostile_answers import CLASSES
    from tests.openai_server import ChatServer, Reply

    with ChatServer(lambda request: Reply("0")) as judge:
        kwargs = {"judge_url": judge.base_url, "judge_model": "judge", "judge_timeout": 600, "judge_retries": 0}
        warm = CLASSES["fence_tag"](random.Random(-1), 100)  # once per loop: the judge's HTTP clients
        await compute_score("w", warm.response, warm.ground_truth, warm.extra_info, **kwargs)
        for seed in range(seeds):
            if name == "think_tags":
                from rewards.chat_client import strip_thinking

                start = time.thread_time()
                strip_thinking("<think>" * 8000)  # 56 KB: a judge reply of unclosed tags
                _report(name, seed, time.thread_time() - start)
                continue
            if name == "judge_reply_64MB":
                _report(name, seed, await _big_reply())
                continue
            case = CLASSES[name](random.Random(seed), _size(name))
            start = time.thread_time()
            await compute_score("w", case.response, case.ground_truth, case.extra_info, **kwargs)
            _report(name, seed, time.thread_time() - start)


async def _big_reply() -> float:
    """Event-loop CPU of one judge request whose reply is 64 MB (the judge's own settings: its size cap, if any)."""
    from rewards.chat_client import ChatError, chat
    from rewards.judge import JudgeSettings

    with _EndlessReply(64 * 2**20) as server:
        endpoint = JudgeSettings(url=server.base_url, model="judge", timeout=120, retries=0).endpoint()
        start = time.thread_time()
        try:
            await chat(endpoint, [{"role": "user", "content": "q"}])
        except ChatError:
            pass
        return time.thread_time() - start


class _EndlessReply:
    def __init__(self, length: int):
        import http.server

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                head = b'{"choices": [{"message": {"content": "1'
                tail = b'"}}]}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(length))
                self.end_headers()
                try:
                    self.wfile.write(head)
                    left = length - len(head) - len(tail)
                    while left > 0:
                        chunk = b" " * min(left, 1 << 20)
                        self.wfile.write(chunk)
                        left -= len(chunk)
                    self.wfile.write(tail)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()


def _report(name: str, seed: int, cpu: float) -> None:
    print("RESULT " + json.dumps({"class": name, "seed": seed, "cpu": cpu}), flush=True)


async def _measure_pool(bombs: int, ordinary: int, timeout: float) -> None:
    import psutil

    from rewards.math_equiv import verify_math

    peak: dict[int, int] = {}
    stop = threading.Event()

    def watch() -> None:
        me = psutil.Process()
        while not stop.is_set():
            for child in me.children(recursive=True):
                try:
                    peak[child.pid] = max(peak.get(child.pid, 0), child.memory_info().rss)
                except psutil.Error:
                    pass
            time.sleep(0.01)

    threading.Thread(target=watch, daemon=True).start()
    settings = dict(timeout=timeout, workers=2, rel_tol=1e-4)
    await verify_math("\\sqrt{4}", "2", **settings)  # workers started
    started = time.monotonic()
    shapes = ["(x+1)^{99999999}", "(x+2)^{99999999}", "9^{9^{9^{9}}}", "(y-1)^{88888888}"]
    held = [asyncio.create_task(verify_math(shapes[i % 4], "1", **settings)) for i in range(bombs)]
    await asyncio.sleep(0.1)
    waits = []

    async def plain(i: int) -> None:
        outcome = await verify_math(f"\\frac{{{2 * i}}}{{2}}", str(i), **settings)
        assert outcome.acc == 1.0, outcome
        waits.append(time.monotonic() - started)

    await asyncio.gather(*(plain(i) for i in range(1, ordinary + 1)))
    await asyncio.gather(*held)
    stop.set()
    print("RESULT " + json.dumps({"pool": True, "peak_rss_mb": sorted(v / 2**20 for v in peak.values()),
                                  "worst_wait": max(waits), "all": time.monotonic() - started}), flush=True)  # fmt: skip


# --- the driving side ------------------------------------------------------------------------------------------


def _extract(revision: str, into: Path) -> Path | None:
    """`rewards/` of `revision`, alone, under `into` (tests/ etc. then come from this checkout)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, "rewards"], capture_output=True)
    if archive.returncode != 0:
        print(f"baseline {revision} not available ({archive.stderr.decode().strip()}): no before figures")
        return None
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def _run(reward_root: Path, args: list[str], timeout: float) -> tuple[list[dict], bool]:
    """RESULT lines of this script in `--measure` mode with `reward_root`'s rewards; (results, finished)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(reward_root), str(REPO)])}
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen([sys.executable, __file__, "--measure", *args], stdout=out,
                                   stderr=subprocess.DEVNULL, env=env, cwd=tempfile.gettempdir())  # fmt: skip
        try:
            process.wait(timeout=timeout)
            finished = process.returncode == 0
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            finished = False
        out.seek(0)
        results = [json.loads(line[7:]) for line in out if line.startswith("RESULT ")]
    return results, finished


def _worst(results: list[dict], finished: bool, timeout: float) -> str:
    if not finished:
        return f"> {timeout:.0f} s" if not results else f"> {max(r['cpu'] for r in results) * 1000:.0f} ms"
    return f"{max(r['cpu'] for r in results) * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the reward to compare against")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--class-timeout", type=float, default=60.0, help="seconds per class and reward version")
    parser.add_argument("--bombs", type=int, default=4)
    parser.add_argument("--ordinary", type=int, default=40)
    parser.add_argument("--math-timeout", type=float, default=3.0)
    parser.add_argument("--classes", nargs="+", help="only these classes (default: all, and the math pool)")
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        if args.measure[0] == "pool":
            asyncio.run(_measure_pool(int(args.measure[1]), int(args.measure[2]), float(args.measure[3])))
        else:
            asyncio.run(_measure_class(args.measure[0], int(args.measure[1])))
        return

    sys.path.insert(0, str(REPO))
    from rewards.hybrid import LOOP_BUDGET_SECONDS
    from tests.hostile_answers import CLASSES

    with tempfile.TemporaryDirectory() as tmp:
        before_root = _extract(args.baseline, Path(tmp))
        print(f"worst event-loop CPU of one call, per class ({args.seeds} seeds; budget "
              f"{LOOP_BUDGET_SECONDS * 1000:.0f} ms; before = {args.baseline}, after = this checkout)")  # fmt: skip
        print(f"{'class':18s} {'before':>14s} {'after':>10s}  ratio")
        for name in args.classes or (*CLASSES, *EXTRA):
            after, done = _run(REPO, [name, str(args.seeds)], args.class_timeout)
            after_text = _worst(after, done, args.class_timeout)
            before_text, ratio = "-", ""
            if before_root is not None:
                before, before_done = _run(before_root, [name, str(args.seeds)], args.class_timeout)
                before_text = _worst(before, before_done, args.class_timeout)
                if after and (before or not before_done):
                    slowest_before = max([r["cpu"] for r in before] or [args.class_timeout])
                    ratio = f"{'>' if not before_done else ''}{slowest_before / max(r['cpu'] for r in after):.0f}x"
            print(f"{name:18s} {before_text:>14s} {after_text:>10s}  {ratio}", flush=True)

        if args.classes:
            return
        print(f"\nmath pool: {args.bombs} bombs queued before {args.ordinary} ordinary answers, math_timeout "
              f"{args.math_timeout:g} s, 2 workers")  # fmt: skip
        roots = [("before", before_root), ("after", REPO)] if before_root is not None else [("after", REPO)]
        for label, root in roots:
            pool_args = ["pool", str(args.bombs), str(args.ordinary), str(args.math_timeout)]
            results, done = _run(root, pool_args, 600)
            if not results:
                print(f"  {label}: did not finish")
                continue
            figures = results[-1]
            print(f"  {label:6s}: peak RSS per worker {', '.join(f'{mb:.0f}' for mb in figures['peak_rss_mb'])} MB; "
                  f"longest wait of an ordinary answer {figures['worst_wait']:.1f} s; all done in {figures['all']:.1f} s")


if __name__ == "__main__":
    main()
