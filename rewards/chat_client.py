"""One bounded call to an OpenAI-compatible chat endpoint (`vllm serve`, DeepSeek, OpenAI, ...).

Shared by the LLM judge (`rewards.judge`) and the QA-synthesis pipeline (`data_prep.synthesize`).
Every call is bounded: a hard per-attempt deadline, a fixed number of retries with exponential backoff on
timeouts, connection errors, 429 and 5xx, and no retry on other 4xx (a bad request stays bad).
The API key is read from an environment variable named by the caller and never logged or raised.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import weakref
from dataclasses import dataclass

import httpx

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class ChatEndpoint:
    """Where and how to call. `base_url` ends in /v1; `api_key_env` names the variable holding the key."""

    base_url: str
    model: str
    api_key_env: str | None = None
    timeout: float = 30.0
    retries: int = 2
    backoff: float = 0.5

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


# httpcore's pool bookkeeping grows costly with many requests in flight on one client (measured on loopback:
# 64 in flight on one client ran ~8x slower than ideal, 16 per client stayed within ~20%), so each event loop
# gets a few clients and calls take them in turn.
CLIENTS_PER_LOOP = 4
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[httpx.AsyncClient]]" = weakref.WeakKeyDictionary()
_turn = itertools.count()


def shared_client() -> httpx.AsyncClient:
    """A pooled client of the running event loop: verl runs reward functions in several loops and processes."""
    loop = asyncio.get_running_loop()
    clients = _clients.get(loop)
    if clients is None or any(c.is_closed for c in clients):
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        clients = [httpx.AsyncClient(limits=limits) for _ in range(CLIENTS_PER_LOOP)]
        _clients[loop] = clients
    return clients[next(_turn) % len(clients)]


def strip_thinking(text: str) -> str:
    """Drop `<think>...</think>` blocks (reasoning-mode judges) and anything before a dangling `</think>`."""
    text = _THINK_BLOCK.sub("", text)
    if "</think>" in text.lower():
        text = re.split(r"</think>", text, flags=re.IGNORECASE)[-1]
    return text.strip()


def _content(payload: object) -> str:
    try:
        content = payload["choices"][0]["message"]["content"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError) as exc:
        raise ChatError(f"malformed response: no choices[0].message.content ({type(exc).__name__})", False) from None
    if not isinstance(content, str):
        raise ChatError("malformed response: content is not a string", False)
    return content


async def _attempt(endpoint: ChatEndpoint, body: dict, client: httpx.AsyncClient) -> str:
    try:
        response = await asyncio.wait_for(
            client.post(endpoint.url, json=body, headers=endpoint.headers(), timeout=endpoint.timeout),
            timeout=endpoint.timeout,
        )
    except (asyncio.TimeoutError, httpx.TimeoutException):
        raise ChatError(f"timeout after {endpoint.timeout:g}s", True) from None
    except httpx.TransportError as exc:
        raise ChatError(f"connection error: {type(exc).__name__}", True) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise ChatError(f"HTTP {response.status_code}", True)
    if response.status_code >= 400:
        raise ChatError(f"HTTP {response.status_code}", False)
    try:
        payload = response.json()
    except ValueError:
        raise ChatError("malformed response: body is not JSON", False) from None
    return _content(payload)


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
