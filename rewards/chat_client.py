"""One bounded call to an OpenAI-compatible chat endpoint (`vllm serve`, DeepSeek, OpenAI, ...).

Shared by the LLM judge (`rewards.judge`) and the QA-synthesis pipeline (`data_prep.synthesize`).
Every call is bounded: a hard per-attempt deadline, a fixed number of retries with exponential backoff on
timeouts, connection errors, 429 and 5xx, and no retry on other 4xx (a bad request stays bad). A reply is read
up to `max_reply_bytes` and no further, so a runaway or hostile server costs neither memory nor event-loop time
beyond that; what comes back is then handled in time linear in its size.
The API key is read from an environment variable named by the caller and never logged or raised.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
import re
import ssl
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_UP_TO_LAST_CLOSE = re.compile(r".*</think>", re.DOTALL | re.IGNORECASE)
DEFAULT_MAX_REPLY_BYTES = 16 * 2**20  # a long synthesis reply with its reasoning is a few hundred KB


@dataclass(frozen=True)
class ChatEndpoint:
    """Where and how to call. `base_url` ends in /v1; `api_key_env` names the variable holding the key."""

    base_url: str
    model: str
    api_key_env: str | None = None
    timeout: float = 30.0
    retries: int = 2
    backoff: float = 0.5
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES

    def headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        return {"Authorization": f"Bearer {key}"} if key else {}

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    def worst_case_seconds(self) -> float:
        """Upper bound of one `chat` call: every attempt times out and every backoff is slept."""
        backoffs = sum(self.backoff * 2**i for i in range(self.retries))
        return self.timeout * (self.retries + 1) + backoffs


class ChatError(RuntimeError):
    """A call that failed for good. `retryable` tells whether more attempts might have helped."""

    def __init__(self, reason: str, retryable: bool):
        super().__init__(reason)
        self.reason, self.retryable = reason, retryable


class ReasoningOnly(ChatError):
    """The endpoint answered, but `content` is empty and `reasoning_content` holds the text: a reasoning model
    (served with a reasoning parser) that ran out of `max_tokens` while thinking. Not an outage: retrying the
    same request gives the same; the fix is more tokens or a server without the reasoning parser."""

    def __init__(self, reasoning_chars: int, finish_reason: object):
        super().__init__(f"reasoning only: empty content, {reasoning_chars} characters of reasoning_content "
                         f"(finish_reason {finish_reason})", False)  # fmt: skip
        self.reasoning_chars, self.finish_reason = reasoning_chars, finish_reason


_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]" = weakref.WeakKeyDictionary()

# httpcore's pool does work proportional to its open connections on every request event: measured on loopback,
# 64 requests in flight on one client ran ~8x slower than ideal, 16 per client stayed within ~20%.
SLOTS_PER_CLIENT = 16


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), built once per process: each client
    would otherwise load the certificate store again, ~30 ms of CPU on the event loop."""
    return httpx.create_ssl_context()


def shared_client() -> httpx.AsyncClient:
    """One pooled client per event loop, for callers that send few requests at a time (see ClientSlots)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=SLOTS_PER_CLIENT), verify=_tls())
        _clients[loop] = client
    return client


class ClientSlots:
    """At most `size` requests in flight, spread over httpx clients of <= SLOTS_PER_CLIENT each.

    For callers with many concurrent requests (the judge, the synthesis pipeline). Belongs to the event loop
    it is first used in, like the clients it holds.
    """

    def __init__(self, size: int):
        n_clients = math.ceil(size / SLOTS_PER_CLIENT)
        limits = httpx.Limits(max_connections=SLOTS_PER_CLIENT, max_keepalive_connections=SLOTS_PER_CLIENT)
        self.clients = [httpx.AsyncClient(limits=limits, verify=_tls()) for _ in range(n_clients)]
        self._free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for i in range(size):
            self._free.put_nowait(self.clients[i % n_clients])

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[httpx.AsyncClient]:
        """Wait for a free slot; yields the client to pass to `chat(..., client=...)`."""
        client = await self._free.get()
        try:
            yield client
        finally:
            self._free.put_nowait(client)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


def strip_thinking(text: str) -> str:
    """Drop `<think>...</think>` blocks (reasoning-mode judges) and anything before a dangling `</think>`.

    Linear: a block is looked for from where the last one ended, and the search stops at the first `<think>` with
    no `</think>` after it (`<think>.*?</think>` retried at every later `<think>` costs the square of their number).
    """
    kept, pos = [], 0
    while (opened := _THINK_OPEN.search(text, pos)) and (closed := _THINK_CLOSE.search(text, opened.end())):
        kept.append(text[pos : opened.start()])
        pos = closed.end()
    text = "".join(kept) + text[pos:]
    dangling = _UP_TO_LAST_CLOSE.match(text)
    return (text[dangling.end() :] if dangling else text).strip()


def _content(payload: object) -> str:
    try:
        choice = payload["choices"][0]  # type: ignore[index]
        message = choice["message"]
        content = message.get("content")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ChatError(f"malformed response: no choices[0].message.content ({type(exc).__name__})", False) from None
    if not (isinstance(content, str) and content.strip()):
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if isinstance(reasoning, str) and reasoning.strip():
            raise ReasoningOnly(len(reasoning), choice.get("finish_reason") if isinstance(choice, dict) else None)
    if not isinstance(content, str):
        raise ChatError("malformed response: content is not a string", False)
    return content


async def post_json(endpoint: ChatEndpoint, body: dict, client: httpx.AsyncClient) -> object:
    """One request with a hard deadline, its decoded JSON body. Raises ChatError: `retryable` for timeouts,
    connection errors, 429/5xx, a body over `max_reply_bytes` and a body that does not decode (a wrong
    Content-Encoding, a garbled proxy reply, JSON nested deeper than the parser goes: a retry may well fix it);
    not for other 4xx. Shared by the judge and the synthesis pipeline."""
    try:
        status, raw = await asyncio.wait_for(_read_capped(endpoint, body, client), timeout=endpoint.timeout)
    except (asyncio.TimeoutError, httpx.TimeoutException):
        raise ChatError(f"timeout after {endpoint.timeout:g}s", True) from None
    except httpx.DecodingError as exc:  # a bad Content-Encoding fails while the body is read
        raise ChatError(f"undecodable reply body ({exc})", True) from None
    except httpx.TransportError as exc:
        raise ChatError(f"connection error: {type(exc).__name__}", True) from None
    if status == 429 or status >= 500:
        raise ChatError(f"HTTP {status}", True)
    if status >= 400:
        raise ChatError(f"HTTP {status}", False)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # ValueError includes UnicodeDecodeError: bytes that are not JSON
        raise ChatError("undecodable reply body (not JSON)", True) from None


async def _read_capped(endpoint: ChatEndpoint, body: dict, client: httpx.AsyncClient) -> tuple[int, bytes]:
    """(status, body bytes, decompressed), read no further than `max_reply_bytes`; an error status's body unread."""
    request = client.stream("POST", endpoint.url, json=body, headers=endpoint.headers(), timeout=endpoint.timeout)
    async with request as response:
        if response.status_code >= 400:
            return response.status_code, b""
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > endpoint.max_reply_bytes:
                raise ChatError(f"reply body over {endpoint.max_reply_bytes} bytes: not read further", True)
            chunks.append(chunk)
        return response.status_code, b"".join(chunks)


async def _attempt(endpoint: ChatEndpoint, body: dict, client: httpx.AsyncClient) -> str:
    return _content(await post_json(endpoint, body, client))


async def chat(
    endpoint: ChatEndpoint,
    messages: list[dict],
    *,
    client: httpx.AsyncClient | None = None,
    **params: object,
) -> str:
    """Return the assistant text for `messages`, thinking stripped. Raises ChatError, never hangs.

    `params` go into the request body as-is (temperature, max_tokens, seed, ...).
    """
    client = client or shared_client()
    body = {"model": endpoint.model, "messages": messages, **params}
    for attempt in range(endpoint.retries + 1):
        try:
            return strip_thinking(await _attempt(endpoint, body, client))
        except ChatError as err:
            if not err.retryable or attempt == endpoint.retries:
                raise
            await asyncio.sleep(endpoint.backoff * 2**attempt)
    raise AssertionError("unreachable")
