"""One chat-completion attempt for the synthesis pipeline, returning the whole assistant message.

Why not `rewards.chat_client.chat` alone: a reasoning model served with a reasoning parser can leave `content`
empty and put its text in `reasoning_content`, which the pipeline must see to handle deliberately. The request
itself (deadline, retryable errors, undecodable bodies), endpoints, client slots and the thinking filter are
`rewards.chat_client`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from rewards.chat_client import ChatEndpoint, ChatError, post_json


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
    """One request with a hard deadline (`rewards.chat_client.post_json`: undecodable bodies are retryable
    failures), its whole assistant message. Raises ChatError."""
    return _message(await post_json(endpoint, body, client))
