"""A real HTTP server on loopback that speaks the OpenAI chat-completions protocol with scripted replies.

Tests of the judge and of the synthesis pipeline point their clients at it: the bytes on the wire are real,
only the model is replaced by a Python function. A script maps each request to a `Reply`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """What the server sends back: `content` wrapped as a chat completion, or a raw `body`, after `delay` s."""

    content: str | None = None
    status: int = 200
    body: str | None = None
    delay: float = 0.0


Script = Callable[[dict], Reply]


def completion(content: str, model: str = "scripted") -> str:
    """A minimal, valid chat-completion response body."""
    return json.dumps(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        }
    )


class _LoopbackServer(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 resets connections when many clients connect at once


class ChatServer:
    """`with ChatServer(script) as server:` gives `server.base_url` (ending in /v1) and `server.requests`."""

    def __init__(self, script: Script):
        self.script = script
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes: avoid ~40 ms delayed-ACK stalls

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(request)
                    server.headers.append(dict(self.headers))
                if not self.path.endswith("/chat/completions"):
                    reply = Reply(status=404, body='{"error": "not found"}')
                else:
                    reply = server.script(request)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body if reply.body is not None else completion(reply.content or "")
                data = body.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # client gave up (timeout test)
                    pass

        self._httpd = _LoopbackServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "ChatServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def last_user_text(request: dict) -> str:
    """The text of the last user message of a request (string or list-of-parts content)."""
    for message in reversed(request.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return "\n".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
    return ""
