"""The model roles of the pipeline and the one way every stage calls them: cache first, then a bounded chat call.

Roles: `vlm` (sees the image), `reasoner` (text only), `judge` (descriptive agreement; defaults to the
reasoner), `arbiter` (optional, sees the image, settles disagreements). Requests to the same server share one
set of slots, so `--endpoint-concurrency` bounds what each server receives however the roles map onto it.

Every attempt is counted (`calls`, so retries included; `retries` separately; `attempt_errors` by reason). A
reply whose `content` is empty while `reasoning_content` holds text is rejected as `reasoning_only`: the text is
the model's unfinished thinking, not an answer, and the image is done rather than retried forever.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from rewards.chat_client import ChatEndpoint, ChatError, ClientSlots, strip_thinking

from .images import EncodedImage
from .replies import Rejected
from .store import StageCache, stable_hash
from .wire import Message, attempt

VISION_ROLES = frozenset({"vlm", "arbiter"})
# call name -> the pipeline stage it belongs to (for reject records and the summary)
STAGE_OF_CALL = {
    "caption": "caption",
    "refine_ask": "refine",
    "refine_answer": "refine",
    "describe": "refine",
    "questions": "questions",
    "answer_text": "verify",
    "answer_image": "verify",
    "arbiter": "verify",
    "judge": "verify",
    "cot": "cot",
}


class EndpointError(RuntimeError):
    """A call that failed after its retries (timeout, connection, HTTP error). The image is retried next run."""

    def __init__(self, call: str, role: str, error: ChatError):
        super().__init__(f"{role} endpoint, {call} call: {error.reason}")
        self.call, self.role, self.reason = call, role, error.reason
        self.stage = STAGE_OF_CALL.get(call, call)

    def record(self, image: str) -> dict:
        """The rejects-file line for an image this error left undone (`retry`: the next run redoes it)."""
        reason = f"endpoint_error: {self}"
        return {"image": image, "stage": self.stage, "reason": reason, "kind": "endpoint_error", "retry": True}


@dataclass
class Models:
    endpoints: dict[str, ChatEndpoint]  # role -> endpoint
    cache: StageCache
    endpoint_concurrency: int = 8
    params: dict = field(default_factory=dict)  # temperature, seed, max_tokens: sent with every request
    calls: Counter = field(default_factory=Counter)  # call -> requests sent (every attempt, retries included)
    retries: Counter = field(default_factory=Counter)  # call -> attempts after a failed one
    attempt_errors: Counter = field(default_factory=Counter)  # why attempts failed (retried or not)
    cache_hits: Counter = field(default_factory=Counter)  # call -> replies read from the cache
    _slots: dict[str, ClientSlots] = field(default_factory=dict)

    def has(self, role: str) -> bool:
        return role in self.endpoints

    def _server(self, endpoint: ChatEndpoint) -> ClientSlots:
        if endpoint.base_url not in self._slots:
            self._slots[endpoint.base_url] = ClientSlots(self.endpoint_concurrency)
        return self._slots[endpoint.base_url]

    async def aclose(self) -> None:
        for slots in self._slots.values():
            await slots.aclose()

    def about(self, image: EncodedImage) -> ImageCalls:
        return ImageCalls(self, image)

    async def ask(self, role: str, stage: str, text: str, image: EncodedImage) -> str:
        """The reply of `role` to one user turn about `image` (attached for vision roles). Raises EndpointError."""
        if role not in VISION_ROLES:
            return await self.send(role, stage, [{"role": "user", "content": text}], image.digest)
        text_part = {"type": "text", "text": text}
        messages = [{"role": "user", "content": [image.part(), text_part]}]
        # The key names the image by digest: hashing megabytes of base64 per lookup buys nothing.
        keyed = [{"role": "user", "content": [{"type": "image", "sha256": image.digest}, text_part]}]
        return await self._call(role, stage, messages, keyed, image.digest)

    async def send(self, role: str, stage: str, messages: list[dict], digest: str) -> str:
        """The reply to text-only `messages` about the image with this digest. Raises EndpointError."""
        return await self._call(role, stage, messages, messages, digest)

    async def _call(self, role: str, stage: str, messages: list[dict], keyed: list[dict], digest: str) -> str:
        """Cache first, then one bounded request. The key holds the image digest even for text-only calls, so
        two images never share a reply."""
        endpoint = self.endpoints[role]
        key = stable_hash(
            {"stage": stage, "model": endpoint.model, "messages": keyed, "image": digest, "params": self.params}
        )
        cached = self.cache.get(key)
        if cached is not None:
            self.cache_hits[stage] += 1
            return cached
        async with self._server(endpoint).slot() as client:
            message = await self._attempts(role, stage, endpoint, messages, client)
        reply = strip_thinking(message.content)
        if not reply and message.reasoning.strip():
            raise Rejected(
                STAGE_OF_CALL.get(stage, stage),
                "reasoning_only",
                f"the {role} reply ({stage}) has no content, only {len(message.reasoning)} characters of "
                f"reasoning_content (finish_reason {message.finish_reason}): raise --max-tokens, or serve the "
                "model without a reasoning parser",
            )
        self.cache.put(key, stage, endpoint.model, reply)
        return reply

    async def _attempts(self, role: str, stage: str, endpoint: ChatEndpoint, messages: list[dict], client) -> Message:
        """Up to 1 + `endpoint.retries` attempts with exponential backoff, each one counted. Raises EndpointError."""
        body = {"model": endpoint.model, "messages": messages, **self.params}
        for number in range(endpoint.retries + 1):
            self.calls[stage] += 1
            if number:
                self.retries[stage] += 1
            try:
                return await attempt(endpoint, body, client)
            except ChatError as error:
                self.attempt_errors[error.reason] += 1
                if not error.retryable or number == endpoint.retries:
                    raise EndpointError(stage, role, error) from None
            await asyncio.sleep(endpoint.backoff * 2**number)
        raise AssertionError("unreachable")


@dataclass(frozen=True)
class ImageCalls:
    """The models bound to one image: what every stage receives, so no stage can mix up images."""

    models: Models
    image: EncodedImage

    def has(self, role: str) -> bool:
        return self.models.has(role)

    async def ask(self, role: str, stage: str, text: str) -> str:
        return await self.models.ask(role, stage, text, self.image)

    async def send(self, role: str, stage: str, messages: list[dict]) -> str:
        """A text-only request with its own messages (the judge's system + user prompt)."""
        return await self.models.send(role, stage, messages, self.image.digest)
