"""A deterministic judge for the learning task (`make_task.py`): an OpenAI-compatible chat server on loopback.

    python examples/learn/keyword_judge.py [--port 0]      # prints its base URL (…/v1) on the first line

It reads the recipe's judge prompt (`rewards/judge.py`: the reference and the candidate in their fences) and
replies with one tier: 1 when the candidate names the reference's colour and no other colour, else 0. A stand-in
for an LLM judge that a tiny policy can learn from, with no model behind it: the recipe's judge client, its
prompt, its parsing and the judge route of the hybrid reward are the real ones.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from make_task import COLOURS  # the backgrounds' colours (the shapes are all white); run as a script from its folder

COLOUR_WORDS = tuple(COLOURS)
_FENCED = {name: re.compile(rf"<{name}>\n(.*?)\n</{name}>", re.S) for name in ("reference_answer", "candidate_answer")}


def colours_named(text: str) -> set[str]:
    return {word for word in COLOUR_WORDS if re.search(rf"\b{word}\b", text, re.I)}


def verdict(prompt: str) -> str:
    """'1' when the candidate names exactly the reference's colour(s), '0' otherwise (nothing fenced included)."""
    found = {name: pattern.search(prompt) for name, pattern in _FENCED.items()}
    if not all(found.values()):
        return "0"
    reference = colours_named(found["reference_answer"].group(1))
    candidate = colours_named(found["candidate_answer"].group(1))
    return "1" if reference and candidate == reference else "0"


def _last_user_text(request: dict) -> str:
    for message in reversed(request.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "".join(part.get("text", "") for part in content if isinstance(part, dict))
            return str(content or "")
    return ""


class Server(ThreadingHTTPServer):
    request_queue_size = 256  # a GRPO step's judge calls arrive together; the default backlog of 5 resets some


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # the launcher's reachability probe reads /v1/models
        self._send(200, {"object": "list", "data": [{"id": "keyword-judge", "object": "model"}]})

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if not self.path.endswith("/chat/completions"):
            self._send(404, {"error": "not found"})
            return
        content = verdict(_last_user_text(request))
        self._send(200, {"id": "keyword-judge", "object": "chat.completion", "model": "keyword-judge",
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": content}}]})  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args(argv)
    server = Server(("127.0.0.1", args.port), Handler)
    print(f"http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
