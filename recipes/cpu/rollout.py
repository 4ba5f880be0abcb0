"""`actor_rollout_ref.rollout.name=hf_cpu`: an HF-transformers rollout backend for verl 0.9.1 on CPU.

verl 0.9.1 generates only through inference servers (vLLM, SGLang, TRT-LLM), none of which runs without an
accelerator. This backend has the same three parts, so verl's agent loop, reward loop and weight sync run
unchanged around it:

- `HFReplica` (registered in verl's `RolloutReplicaRegistry`): starts one `HFServer` actor per replica, on the
  node of the replica's workers, as `vLLMReplica` starts `vLLMHttpServer`.
- `HFServer` (a Ray actor): token-in/token-out `generate` for the agent loop (HF `generate` on batches of the
  requests that wait together, left-padded, log-probs of the sampled tokens), and an OpenAI-compatible
  `/v1/chat/completions` over HTTP so a verl-hosted judge (`reward.reward_model.*`) is reached through verl's
  reward router.
- `HFServerAdapter` (the in-worker `BaseRollout` that `ActorRolloutRefWorker` builds): every step verl hands it
  the actor's weights (`update_weights`); it drains them on every rank (gathering full tensors is a
  collective) and one rank per replica ships them to its server, which loads them 1:1 by name.

For checking integration on a laptop or in CI, not for training: 32-token rollouts of a tiny model.

Nothing is forced: reward variance comes from the model (`--smoke`'s tiny model is taught the answer format,
`recipes.cpu.tiny_model.teach_answer_format`), as it does on vLLM.

Switch (`+actor_rollout_ref.rollout.engine_kwargs.hf_cpu.KEY=VALUE`, printed by the server at start):
- `ignore_weight_updates` (default false): drop every weight update (a negative control: with verl's default
  `load_format=dummy` the server then keeps random weights and rollout/actor log-probs stop agreeing).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import ray
import torch
from fastapi import FastAPI, Request  # at module level: FastAPI resolves the handler's annotations here
from fastapi.responses import JSONResponse
from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutMode, RolloutReplica, TokenOutput

logger = logging.getLogger(__name__)

ROLLOUT_NAME = "hf_cpu"
# Tokens a random model may emit that verl's position-id code cannot take in a *response* (get_rope_index
# counts vision spans): never sample them.
VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")
# One HF `generate` per batch of waiting requests: per-token Python overhead, not arithmetic, is a small model's cost
# on CPU, so 80 requests together cost little more than one. A batch keeps every step's raw logits (for the log-probs),
# rows x new tokens x vocab floats: capped here (the tiny model's 600-token vocab allows the whole cap).
MAX_BATCH_ROWS = 128
MAX_BATCH_LOGIT_BYTES = 256 * 2**20
# How long the server waits for more requests to join a batch once one is waiting: verl's agent loop sends a step's
# requests together; a straggler only waits for the next batch (it changes speed, never a result).
BATCH_GATHER_SECONDS = 0.02


def server_actor_name(replica_rank: int, is_reward_model: bool = False, name_suffix: str = "") -> str:
    role = "reward_" if is_reward_model else ""
    return f"{ROLLOUT_NAME}_server_{role}{replica_rank}{name_suffix}"


def engine_options(config: Any) -> dict:
    """This backend's switches from `rollout.engine_kwargs.hf_cpu`, validated (a bad value names its key)."""
    raw = dict((getattr(config, "engine_kwargs", None) or {}).get(ROLLOUT_NAME) or {})
    unknown = set(raw) - {"ignore_weight_updates"}
    if unknown:
        raise ValueError(f"actor_rollout_ref.rollout.engine_kwargs.{ROLLOUT_NAME}: unknown keys {sorted(unknown)}")
    return {
        "ignore_weight_updates": str(raw.get("ignore_weight_updates", False)).lower() in ("1", "true", "yes"),
    }


@dataclass
class _Request:
    """One `generate` call waiting for its batch; `key` holds what must be equal within a batch."""

    prompt_ids: list[int]
    images: list[Any] | None
    mm_kwargs: dict | None
    key: tuple
    done: asyncio.Future = field(repr=False)


class HFServer:
    """One replica's inference server: an HF model on CPU behind verl's server interface (see module doc)."""

    def __init__(self, config, model_config, rollout_mode: RolloutMode, replica_rank: int, is_reward_model: bool):
        from transformers import AutoConfig, AutoProcessor, AutoTokenizer

        torch.set_num_threads(1)  # many processes share 2 cores; one thread each avoids oversubscription
        self.config, self.model_config = config, model_config
        self.replica_rank, self.is_reward_model, self.rollout_mode = replica_rank, is_reward_model, rollout_mode
        self.options = engine_options(config)
        path = getattr(model_config, "local_path", None) or model_config.path
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        try:
            self.processor = AutoProcessor.from_pretrained(path)
        except (OSError, ValueError):
            self.processor = None
        hf_config = AutoConfig.from_pretrained(path)
        self.model = self._load_model(path, hf_config).eval()
        self.eos_ids = self._eos_ids()
        self.suppress = [i for i in self.tokenizer.convert_tokens_to_ids(list(VISION_TOKENS)) if i is not None and i >= 0]
        self.global_steps: int | None = None
        self._lock = asyncio.Lock()  # one batch generates at a time
        self._waiting: list[_Request] = []
        self._batcher: asyncio.Task | None = None
        self._address: tuple[str, int] | None = None
        self._http_task: asyncio.Task | None = None
        role = "judge" if is_reward_model else "policy"
        print(
            f"[hf_cpu] replica {replica_rank} ({role}) on CPU: {type(self.model).__name__} from {path}, "
            f"weights={'dummy (random until the first sync)' if self._dummy else 'loaded'}, "
            f"ignore_weight_updates={self.options['ignore_weight_updates']}",
            flush=True,
        )

    @property
    def _dummy(self) -> bool:
        """verl's default `load_format=dummy`: a hybrid rollout starts random and gets real weights by sync."""
        return (
            "dummy" in str(self.config.load_format)
            and self.rollout_mode == RolloutMode.HYBRID
            and not self.is_reward_model
        )

    def _load_model(self, path: str, hf_config):
        from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

        auto = AutoModelForImageTextToText if hasattr(hf_config, "vision_config") else AutoModelForCausalLM
        if self._dummy:
            torch.manual_seed(1234 + self.replica_rank)
            return auto.from_config(hf_config, dtype=torch.float32, attn_implementation="sdpa")
        return auto.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa")

    def _eos_ids(self) -> list[int]:
        eos = getattr(self.model.generation_config, "eos_token_id", None) or self.tokenizer.eos_token_id
        return sorted({eos} if isinstance(eos, int) else set(eos))

    # --- token-in/token-out generation: what verl's agent loop calls -----------------------------------

    async def generate(
        self,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        request_id: str,
        image_data: list[Any] | None = None,
        video_data: list[Any] | None = None,
        audio_data: list[Any] | None = None,
        mm_processor_kwargs: dict[str, Any] | None = None,
        priority: int = 0,
        **_: Any,
    ) -> TokenOutput:
        if video_data or audio_data:
            raise NotImplementedError("hf_cpu rollout: video/audio inputs are not supported")
        params = dict(sampling_params)
        request = _Request(
            list(prompt_ids), image_data, mm_processor_kwargs,
            key=(self._sampling_key(params, len(prompt_ids)), repr(sorted((mm_processor_kwargs or {}).items()))),
            done=asyncio.get_running_loop().create_future(),
        )  # fmt: skip
        self._waiting.append(request)
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._serve_waiting())
        token_ids, log_probs = await request.done
        return TokenOutput(
            token_ids=token_ids,
            log_probs=log_probs if params.get("logprobs") else None,
            stop_reason="completed",
            extra_fields={"global_steps": self.global_steps},  # the v1 trainer reads it for every sample
        )

    def _sampling_key(self, params: dict, prompt_len: int) -> tuple:
        """What one HF `generate` call shares: temperature, top-p, top-k, repetition penalty, new-token budget."""
        temperature = float(params.get("temperature", 1.0) or 0.0)
        top_k = int(params.get("top_k", -1) or -1)
        return (
            temperature,
            float(params.get("top_p", 1.0) or 1.0) if temperature > 0 else 1.0,
            top_k if temperature > 0 and top_k > 0 else None,
            float(params.get("repetition_penalty", 1.0) or 1.0),
            self._max_new_tokens(params, prompt_len),
        )

    async def _serve_waiting(self) -> None:
        """Generate for the waiting requests, a batch at a time (those with the first one's key), until none wait."""
        while self._waiting:
            await self._let_requests_gather()
            key = self._waiting[0].key
            batch = [r for r in self._waiting if r.key == key][: self._batch_rows(max_new_tokens=key[0][-1])]
            self._waiting = [r for r in self._waiting if not any(r is b for b in batch)]
            async with self._lock:
                try:
                    results = await asyncio.to_thread(self._generate, batch, key[0])
                except Exception as exc:  # noqa: BLE001 - every caller of the batch gets the error, as a lone call would
                    for request in batch:
                        if not request.done.done():  # a caller may have gone (cancelled)
                            request.done.set_exception(exc)
                    continue
            for request, result in zip(batch, results):
                if not request.done.done():
                    request.done.set_result(result)

    async def _let_requests_gather(self) -> None:
        seen = -1
        while len(self._waiting) != seen and len(self._waiting) < MAX_BATCH_ROWS:
            seen = len(self._waiting)
            await asyncio.sleep(BATCH_GATHER_SECONDS)

    def _batch_rows(self, max_new_tokens: int) -> int:
        vocab = self.model.get_output_embeddings().weight.shape[0]
        return max(1, min(MAX_BATCH_ROWS, MAX_BATCH_LOGIT_BYTES // (4 * vocab * max_new_tokens)))

    def _max_new_tokens(self, params: dict, prompt_len: int) -> int:
        limit = self.config.max_model_len or (self.config.prompt_length + self.config.response_length)
        wanted = params.get("max_tokens") or params.get("max_new_tokens") or self.config.response_length
        return max(1, min(int(wanted), int(limit) - prompt_len))

    def _vision_inputs(self, prompt_ids: list[int], images: list[Any] | None, mm_kwargs: dict | None) -> dict:
        if not images:
            return {}
        if self.processor is None:
            raise ValueError(f"hf_cpu rollout: {self.model_config.path} has no image processor but got images")
        out = self.processor.image_processor(images=images, return_tensors="pt", **(mm_kwargs or {}))
        merge = getattr(self.processor.image_processor, "merge_size", 2)
        expected = int(out["image_grid_thw"].prod(dim=-1).sum()) // (merge * merge)
        pad_id = self.tokenizer.convert_tokens_to_ids("<|image_pad|>")
        found = sum(1 for t in prompt_ids if t == pad_id)
        if found != expected:
            raise ValueError(f"hf_cpu rollout: prompt holds {found} image pad tokens, the images need {expected}")
        return {"pixel_values": out["pixel_values"], "image_grid_thw": out["image_grid_thw"]}

    def _batch_inputs(self, batch: list[_Request]) -> dict:
        """The batch's prompts left-padded (generation appends on the right), and their images in prompt order."""
        width = max(len(r.prompt_ids) for r in batch)
        input_ids = [[self._pad_id] * (width - len(r.prompt_ids)) + r.prompt_ids for r in batch]
        mask = [[0] * (width - len(r.prompt_ids)) + [1] * len(r.prompt_ids) for r in batch]
        inputs = {"input_ids": torch.tensor(input_ids), "attention_mask": torch.tensor(mask)}
        vision = [self._vision_inputs(r.prompt_ids, r.images, r.mm_kwargs) for r in batch]
        vision = [v for v in vision if v]
        if vision:
            inputs["pixel_values"] = torch.cat([v["pixel_values"] for v in vision])
            inputs["image_grid_thw"] = torch.cat([v["image_grid_thw"] for v in vision])
            # The image tokens' types, as the processor marks them: transformers 5's Qwen2.5-VL builds its 3D
            # (M-RoPE) positions from them; without them it falls back to text positions and the picture is not seen
            # as the actor sees it (verl's dataset keeps the processor's output whole), so GRPO could not learn from it.
            inputs["mm_token_type_ids"] = torch.tensor(self.processor.create_mm_token_type_ids(input_ids))
        return inputs

    @property
    def _pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]

    @torch.no_grad()
    def _generate(self, batch: list[_Request], key: tuple) -> list[tuple[list[int], list[float]]]:
        """One HF `generate` for the batch; each row's tokens up to its first EOS, with their raw log-probs."""
        temperature, top_p, top_k, repetition_penalty, max_new_tokens = key
        inputs = self._batch_inputs(batch)
        kwargs = {
            "max_new_tokens": max_new_tokens,
            "do_sample": temperature > 0,
            "eos_token_id": self.eos_ids,
            "pad_token_id": self._pad_id,
            "suppress_tokens": self.suppress or None,
            "repetition_penalty": repetition_penalty,
            "return_dict_in_generate": True,
            "output_logits": True,  # raw logits: log-probs as the actor computes them, not after the processors
        }
        if temperature > 0:
            kwargs.update(temperature=temperature, top_p=top_p, top_k=top_k)
        out = self.model.generate(**inputs, **kwargs)
        new_tokens = out.sequences[:, inputs["input_ids"].shape[1] :]
        scale = temperature if temperature > 0 else 1.0
        log_probs = torch.log_softmax(torch.stack(out.logits, dim=1).float() / scale, dim=-1)
        log_probs = log_probs.gather(-1, new_tokens[..., None])[..., 0]
        results = []
        for row in range(len(batch)):
            tokens = new_tokens[row].tolist()
            ends = [i for i, token in enumerate(tokens) if token in self.eos_ids]
            length = ends[0] + 1 if ends else len(tokens)  # after its EOS a finished row holds only padding
            results.append((tokens[:length], log_probs[row, :length].tolist()))
        return results

    # --- OpenAI-compatible chat completions over HTTP: how verl's reward router reaches a hosted judge ---

    async def launch_server(self, **_: Any) -> None:
        import uvicorn

        app = FastAPI()

        @app.get("/health")
        async def health():
            return {"status": "ok"}

        @app.get("/v1/models")
        async def models():
            return {"object": "list", "data": [{"id": str(self.model_config.path), "object": "model"}]}

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            try:
                return await self.chat_completion(body)
            except Exception as exc:  # noqa: BLE001 - an HTTP server answers errors, it does not die
                return JSONResponse(status_code=400, content={"error": {"message": str(exc)}})

        host = ray.util.get_node_ip_address().strip("[]")
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=0, log_level="warning", lifespan="off"))
        self._http_task = asyncio.create_task(server.serve())
        deadline = time.monotonic() + 60
        while not server.started:
            if self._http_task.done() or time.monotonic() > deadline:
                raise RuntimeError(f"hf_cpu rollout: HTTP server did not start on {host}")
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        self._address = (host, port)

    def get_server_address(self) -> tuple[str, int]:
        assert self._address is not None, "launch_server first"
        return self._address

    async def chat_completion(self, body: dict) -> dict:
        messages = body.get("messages") or []
        prompt_ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(prompt_ids, dict) or hasattr(prompt_ids, "input_ids"):
            prompt_ids = prompt_ids["input_ids"]
        params = {
            "temperature": body.get("temperature", 0.0),
            "top_p": body.get("top_p", 1.0),
            "max_tokens": body.get("max_tokens") or body.get("max_completion_tokens") or 64,
        }
        output = await self.generate(list(prompt_ids), params, request_id=f"chat-{uuid.uuid4().hex}")
        text = self.tokenizer.decode(output.token_ids, skip_special_tokens=True)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or str(self.model_config.path),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(prompt_ids), "completion_tokens": len(output.token_ids)},
        }

    # --- weights -------------------------------------------------------------------------------------

    def update_weights(self, named_tensors: dict[str, torch.Tensor], global_steps: int | None = None) -> int:
        """Load the actor's weights by name; every name must match (a silent partial sync is the worst bug)."""
        if self.options["ignore_weight_updates"]:
            print(f"[hf_cpu] replica {self.replica_rank}: IGNORING weight update (ignore_weight_updates=true)", flush=True)
        else:
            params = dict(self.model.named_parameters())
            params.update(dict(self.model.named_buffers()))
            unknown = sorted(set(named_tensors) - set(params))
            if unknown:
                raise KeyError(f"hf_cpu rollout: actor weights with no rollout parameter: {unknown[:5]} ...")
            with torch.no_grad():
                for name, tensor in named_tensors.items():
                    params[name].copy_(tensor.to(params[name].dtype))
            missing = sorted(n for n, _ in self.model.named_parameters() if n not in named_tensors)
            if missing:
                raise KeyError(f"hf_cpu rollout: rollout parameters the actor did not send: {missing[:5]} ...")
        if global_steps is not None:
            self.global_steps = global_steps
        return len(named_tensors)

    # --- control methods verl calls on every server; nothing to do for an HF model on CPU -------------

    async def set_global_steps(self, global_steps: int) -> None:
        self.global_steps = global_steps

    async def wake_up(self, tags: list[str] | None = None) -> None:
        return None

    async def sleep(self) -> None:
        return None

    async def clear_kv_cache(self) -> None:
        return None

    async def release_kv_cache(self) -> None:
        return None

    async def resume_kv_cache(self) -> None:
        return None

    async def wait_for_requests_to_drain(self) -> None:
        while self._batcher is not None and not self._batcher.done():
            await asyncio.shield(self._batcher)

    async def abort_all_requests(self, reset_prefix_cache: bool = True, reject_request: bool = False) -> dict:
        return {"aborted_count": 0, "request_ids": []}

    async def abort_request(self, request_id: str, reset_prefix_cache: bool = True) -> dict:
        return {"aborted": False, "request_id": request_id}

    async def resume_generation(self) -> None:
        return None

    async def resume_engine_generation(self) -> None:
        return None

    async def open_submission_gate(self) -> None:
        return None

    async def start_profile(self, **kwargs: Any) -> None:
        return None

    async def stop_profile(self) -> None:
        return None


class HFReplica(RolloutReplica):
    """One `HFServer` per replica, placed on the node of the replica's first worker (single-node replicas)."""

    async def launch_servers(self):
        if self.nnodes != 1:
            raise ValueError("hf_cpu rollout: a replica spans one node (tensor_model_parallel_size <= GPUs per node)")
        node_id = None
        if self.workers:
            node_id = await self.workers[0].__ray_call__.remote(lambda worker: ray.get_runtime_context().get_node_id())
        options = {"name": server_actor_name(self.replica_rank, self.is_reward_model, self.name_suffix),
                   "max_concurrency": self.max_concurrency}
        if node_id is not None:
            options["scheduling_strategy"] = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
                node_id=node_id, soft=False
            )
        server = ray.remote(HFServer).options(**options).remote(
            config=self.config,
            model_config=self.model_config,
            rollout_mode=self.rollout_mode,
            replica_rank=self.replica_rank,
            is_reward_model=self.is_reward_model,
        )
        await server.launch_server.remote()
        host, port = await server.get_server_address.remote()
        self.servers = [server]
        self._server_handle = server
        self._server_address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class HFServerAdapter(BaseRollout):
    """The in-worker rollout: receives the actor's weights every step and ships them to its replica's server."""

    def __init__(self, config, model_config, device_mesh, replica_rank: int = -1, **_: Any):
        super().__init__(config, model_config, device_mesh)
        rank = int(os.environ.get("RANK", "0"))
        world = (
            self.config.tensor_model_parallel_size
            * self.config.data_parallel_size
            * self.config.pipeline_model_parallel_size
        )
        self.replica_rank = rank // world if replica_rank == -1 else replica_rank
        self.rollout_rank = rank % world
        self._server = None

    def _server_handle(self):
        if self.rollout_rank != 0:
            return None
        if self._server is None:
            self._server = ray.get_actor(server_actor_name(self.replica_rank))
        return self._server

    async def resume(self, tags: list[str]):
        server = self._server_handle()
        if server is not None:
            await server.wake_up.remote(tags=tags)

    async def release(self):
        server = self._server_handle()
        if server is not None:
            await server.sleep.remote()

    async def update_weights(self, weights: Iterable, global_steps: int | None = None, wire_format: str = "named_tensors", **_: Any):
        if wire_format != "named_tensors":
            raise NotImplementedError(f"hf_cpu rollout: weight wire format {wire_format!r} (only named_tensors)")
        keep = self.rollout_rank == 0
        collected: dict[str, torch.Tensor] = {}
        if hasattr(weights, "__aiter__"):
            async for name, tensor in weights:
                if keep:
                    collected[name] = tensor.detach().to("cpu", copy=True)
        else:
            for name, tensor in weights:  # every rank drains: producing a full tensor is a collective
                if keep:
                    collected[name] = tensor.detach().to("cpu", copy=True)
        server = self._server_handle()
        if server is not None:
            await server.update_weights.remote(collected, global_steps=global_steps)

