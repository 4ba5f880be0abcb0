"""The shared OpenAI-compatible client against a real loopback server: retries, no-retry on 4xx, bounds."""

import json
import time

import pytest

from rewards.chat_client import ChatEndpoint, ChatError, ReasoningOnly, chat, strip_thinking
from tests.openai_server import ChatServer, Reply


def endpoint(server, **kw):
    return ChatEndpoint(base_url=server.base_url, model="judge", **{"timeout": 2.0, "retries": 2, "backoff": 0.01, **kw})


async def test_returns_content_with_thinking_stripped():
    with ChatServer(lambda req: Reply("<think>hmm</think> 1")) as server:
        assert await chat(endpoint(server), [{"role": "user", "content": "q"}]) == "1"
        assert server.requests[0]["model"] == "judge"


async def test_retries_5xx_then_succeeds():
    replies = iter([Reply(status=503, body="{}"), Reply(status=500, body="{}"), Reply("ok")])
    with ChatServer(lambda req: next(replies)) as server:
        assert await chat(endpoint(server), [{"role": "user", "content": "q"}]) == "ok"
        assert len(server.requests) == 3


async def test_does_not_retry_4xx():
    with ChatServer(lambda req: Reply(status=400, body='{"error": "bad"}')) as server:
        with pytest.raises(ChatError, match="HTTP 400") as info:
            await chat(endpoint(server), [{"role": "user", "content": "q"}])
        assert not info.value.retryable and len(server.requests) == 1


async def test_slow_server_is_bounded_by_timeout_and_retries():
    with ChatServer(lambda req: Reply("late", delay=1.0)) as server:
        ep = endpoint(server, timeout=0.2, retries=1)
        start = time.monotonic()
        with pytest.raises(ChatError, match="timeout"):
            await chat(ep, [{"role": "user", "content": "q"}])
        assert time.monotonic() - start < ep.worst_case_seconds() + 0.5


async def test_garbage_body_is_a_clear_error():
    with ChatServer(lambda req: Reply(body="<html>oops</html>")) as server:
        with pytest.raises(ChatError, match="not JSON"):
            await chat(endpoint(server), [{"role": "user", "content": "q"}])


async def test_api_key_from_env_is_sent_and_never_in_errors(monkeypatch):
    monkeypatch.setenv("TEST_JUDGE_KEY", "sk-secret-123")
    with ChatServer(lambda req: Reply(status=401, body='{"error": "no"}')) as server:
        with pytest.raises(ChatError) as info:
            await chat(endpoint(server, api_key_env="TEST_JUDGE_KEY"), [{"role": "user", "content": "q"}])
        assert server.headers[0]["Authorization"] == "Bearer sk-secret-123"
        assert "sk-secret" not in str(info.value)


async def test_unreachable_server_is_a_retryable_connection_error():
    ep = ChatEndpoint(base_url="http://127.0.0.1:9/v1", model="m", timeout=0.5, retries=1, backoff=0.01)
    with pytest.raises(ChatError, match="connection error|timeout"):
        await chat(ep, [{"role": "user", "content": "q"}])


def test_strip_thinking_handles_dangling_close_tag():
    assert strip_thinking("reasoning...</think>\n0.5") == "0.5"
    assert strip_thinking("plain") == "plain"


@pytest.mark.parametrize("content", ["", None, "  \n"])
async def test_empty_content_with_reasoning_content_is_reasoning_only(content):
    """A reasoning model served with a reasoning parser that ran out of max_tokens: not an outage, not retried."""
    message = {"role": "assistant", "content": content, "reasoning_content": "Let me compare the two answers..."}
    body = json.dumps({"choices": [{"index": 0, "message": message, "finish_reason": "length"}]})
    with ChatServer(lambda req: Reply(body=body)) as server:
        with pytest.raises(ReasoningOnly, match="33 characters of reasoning_content .finish_reason length") as info:
            await chat(endpoint(server), [{"role": "user", "content": "q"}])
        assert not info.value.retryable and len(server.requests) == 1


async def test_empty_content_without_reasoning_is_not_reasoning_only():
    body = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": ""}}]})
    with ChatServer(lambda req: Reply(body=body)) as server:
        assert await chat(endpoint(server), [{"role": "user", "content": "q"}]) == ""
