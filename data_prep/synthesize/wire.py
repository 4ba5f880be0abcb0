"""One chat-completion attempt for the synthesis pipeline, returning the whole assistant message.

Why not `rewards.chat_client.chat` alone: the pipeline runs for hours against servers it does not control, so
(1) a body that does not decode (a wrong `Content-Encoding`, a garbled proxy reply) must be a failed attempt,
retried and counted, never an exception that ends the run; and (2) a reasoning model served with a reasoning
parser can leave `content` empty and put its text in `reasoning_content`, which the pipeline must see to handle
deliberately. Endpoints, errors, client slots and the thinking filter are `rewards.chat_client`'s.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from rewards.chat_client import ChatEndpoint, ChatError


@dataclass(frozen=True)
class Message:
    content: str  # "" when the server sent none (null or missing)
    reasoning: str  # `reasoning_content` (vLLM, DeepSeek) or `reasoning`; "" when absent
    finish_reason: str | None


def _message(payload: object) -> Message:
    try:
        choice = payload["choices"][0]  # type: ignore[index]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ChatError(f"malformed response: no choices[0].message ({type(exc).__name__})", False) from None
    if not isinstance(message, dict):
        raise ChatError("malformed response: message is not an object", False)
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise ChatError("malformed response: content is not a string", False)
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    finish = choice.get("finish_reason") if isinstance(choice, dict) else None
    return Message(content or "", reasoning if isinstance(reasoning, str) else "", finish)


async def attempt(endpoint: ChatEndpoint, body: dict, client: httpx.AsyncClient) -> Message:
    """One request with a hard deadline. Raises ChatError (`retryable` as for chat_client, plus undecodable
    bodies, which a retry may well fix)."""
    try:
        response = await asyncio.wait_for(
            client.post(endpoint.url, json=body, headers=endpoint.headers(), timeout=endpoint.timeout),
            timeout=endpoint.timeout,
        )
    except (asyncio.TimeoutError, httpx.TimeoutException):
        raise ChatError(f"timeout after {endpoint.timeout:g}s", True) from None
    except httpx.DecodingError as exc:  # httpx reads the body inside post(): a bad Content-Encoding fails here
        raise ChatError(f"undecodable reply body ({exc})", True) from None
    except httpx.TransportError as exc:
        raise ChatError(f"connection error: {type(exc).__name__}", True) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise ChatError(f"HTTP {response.status_code}", True)
    if response.status_code >= 400:
        raise ChatError(f"HTTP {response.status_code}", False)
    try:
        payload = response.json()
    except ValueError:  # includes UnicodeDecodeError: bytes that are not the JSON they claim to be
        raise ChatError("undecodable reply body (not JSON)", True) from None
    return _message(payload)
