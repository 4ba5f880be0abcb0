"""A row's prompt length in tokens, counted at prep time the way verl 0.9.1's agent loop will count it.

Why: verl ignores `data.truncation` for RL rows; a multimodal prompt over `rollout.prompt_length` raises in the
agent loop and the trainer silently drops the whole GRPO group. Prep rejects such rows instead, with the numbers.

- Visual tokens: each image is resized by `smart_resize` into [min_pixels, max_pixels] (multiples of 28) and
  costs (h/28) x (w/28) tokens. The function is transformers' own (Qwen2-VL image processor), loaded from its
  source file because importing that module imports torch: ~0.5 GB and seconds per process, for 20 lines of math.
- Text tokens (with `--tokenizer DIR`): the prompt rendered by the tokenizer's chat template (transformers'
  renderer, generation prompt on) and encoded by its `tokenizer.json` (the `tokenizers` library), each image
  block counted once by the template and then expanded. `AutoTokenizer` would import torch too.
- Without a tokenizer the text still has a floor: no token of a byte-level BPE vocabulary holds more than
  MAX_TOKEN_BYTES bytes, so the text's UTF-8 bytes / MAX_TOKEN_BYTES is a lower bound, which the limit is checked
  against too (a 50 MB question is refused with or without --tokenizer; an ordinary one is far below its floor).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from data_prep.rows import Reject
from data_prep.schema import IMAGE_PLACEHOLDER

PROMPT_TOO_LONG = "prompt_too_long"
PATCH = 28  # Qwen2.5-VL: 14-pixel patches merged 2x2 -> one visual token per 28x28 pixels
IMAGE_PAD = "<|image_pad|>"  # what Qwen2-VL chat templates emit once per image; the processor expands it
_SMART_RESIZE_MODULE = "transformers.models.qwen2_vl.image_processing_qwen2_vl"
_MEDIA = re.compile(r"(<image>|<video>|<audio>)")
# Above the longest token of Qwen2's vocabulary (byte-level BPE grown from cl100k, whose longest tokens are runs of
# 128 bytes): a bound that can only under-count.
MAX_TOKEN_BYTES = 256


@functools.cache
def smart_resize() -> Callable[..., tuple[int, int]]:
    """transformers' Qwen2-VL `smart_resize(height, width, factor, min_pixels, max_pixels)`, without torch.

    The function body only uses `math`; if a transformers release changes that, the module is imported normally.
    """
    package = importlib.util.find_spec("transformers")  # locates the package without importing it (~1 s)
    path = os.path.join(os.path.dirname(package.origin), *_SMART_RESIZE_MODULE.split(".")[1:]) + ".py"
    try:
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), path)
        [node] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "smart_resize"]
        namespace: dict = {"math": math}
        exec(compile(ast.Module(body=[node], type_ignores=[]), path, "exec"), namespace)  # noqa: S102
        function = namespace["smart_resize"]
        function(56, 56, PATCH, PATCH * PATCH, 4 * PATCH * PATCH)  # fails here if it needs more than `math`
        return function
    except (OSError, SyntaxError, ValueError, NameError, TypeError):
        module = importlib.import_module(_SMART_RESIZE_MODULE)
        return module.smart_resize


def visual_tokens(width: int, height: int, min_pixels: int, max_pixels: int) -> int:
    """Visual tokens of one `width` x `height` image under the pixel bounds."""
    h, w = smart_resize()(height, width, factor=PATCH, min_pixels=min_pixels, max_pixels=max_pixels)
    return (h // PATCH) * (w // PATCH)


def chat_messages(prompt: list[dict]) -> list[dict]:
    """verl's `_build_messages` split: `<image>` placeholders become image parts, the rest text parts."""
    messages = []
    for message in prompt:
        parts = [
            {"type": "image"} if piece == IMAGE_PLACEHOLDER else {"type": "text", "text": piece}
            for piece in _MEDIA.split(message["content"])
            if piece
        ]
        messages.append({"role": message["role"], "content": parts})
    return messages


def _token_text(value: object) -> str | None:
    """A special token as tokenizer_config.json stores it: a string or `{"content": ...}`."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _read_json(path: str) -> dict:
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as fh:
        value = json.load(fh)
    return value if isinstance(value, dict) else {}


def _chat_template(directory: str, config: dict) -> str | None:
    """The template transformers would use: chat_template.jinja, else tokenizer_config.json, else chat_template.json."""
    jinja = os.path.join(directory, "chat_template.jinja")
    if os.path.isfile(jinja):
        with open(jinja, encoding="utf-8") as fh:
            return fh.read()
    template = config.get("chat_template")
    if isinstance(template, list):  # named templates: the default one
        template = next((t.get("template") for t in template if t.get("name") == "default"), None)
    return template if isinstance(template, str) else _read_json(os.path.join(directory, "chat_template.json")).get(
        "chat_template"
    )


class PromptTokenizer:
    """Text tokens of a verl prompt for one model's tokenizer directory (a local path, nothing downloaded)."""

    def __init__(self, directory: str):
        from tokenizers import Tokenizer
        from transformers.utils.chat_template_utils import render_jinja_template

        path = os.path.join(directory, "tokenizer.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--tokenizer {directory!r}: no tokenizer.json in it (a local model directory)")
        config = _read_json(os.path.join(directory, "tokenizer_config.json"))
        self.template = _chat_template(directory, config)
        if not self.template:
            raise ValueError(f"--tokenizer {directory!r}: no chat template found")
        names = ("bos_token", "eos_token", "pad_token", "unk_token")
        self.special = {name: text for name in names if (text := _token_text(config.get(name)))}
        self.render = render_jinja_template
        self.tokenizer = Tokenizer.from_file(path)
        self.image_pad = self.tokenizer.token_to_id(IMAGE_PAD)
        if self.image_pad is None:
            raise ValueError(f"--tokenizer {directory!r} has no {IMAGE_PAD} token: not a Qwen2-VL/Qwen2.5-VL tokenizer")

    def text_tokens(self, prompt: list[dict]) -> int:
        """Tokens of the rendered prompt (generation prompt included) minus one image-pad token per image."""
        messages = chat_messages(prompt)
        [rendered], _ = self.render(
            conversations=[messages], chat_template=self.template, add_generation_prompt=True, **self.special
        )
        ids = self.tokenizer.encode(rendered, add_special_tokens=False).ids
        pads = ids.count(self.image_pad)
        images = sum(part["type"] == "image" for m in messages for part in m["content"])
        if pads != images:
            raise ValueError(f"the chat template emitted {pads} {IMAGE_PAD} for {images} image(s): cannot count")
        return len(ids) - pads


@functools.cache
def prompt_tokenizer(directory: str) -> PromptTokenizer:
    """One tokenizer per process (workers load it on first use)."""
    return PromptTokenizer(directory)


@dataclass(frozen=True)
class PromptLength:
    text: int | None  # None: not counted (no --tokenizer)
    visual: tuple[int, ...]  # per image
    text_floor: int = 0  # at least this many text tokens (module docstring), when `text` is None

    @property
    def total(self) -> int:
        """Tokens verl's agent loop sees (a lower bound when text was not counted)."""
        return (self.text or 0) + sum(self.visual)

    @property
    def least(self) -> int:
        """Tokens verl's agent loop sees at the least: `total`, plus the text's floor when it was not counted."""
        return self.total + (self.text_floor if self.text is None else 0)

    def describe(self) -> str:
        images = f"visual {sum(self.visual)} for {len(self.visual)} image(s)"
        if len(self.visual) > 1:
            images += ": " + "+".join(map(str, self.visual))
        if self.text is None and self.text_floor > sum(self.visual):
            return (f"at least {self.least} tokens (text at least {self.text_floor}: its UTF-8 bytes / {MAX_TOKEN_BYTES}, "
                    f"not counted without --tokenizer; {images})")  # fmt: skip
        if self.text is None:
            return f"at least {self.total} tokens ({images}; text not counted without --tokenizer)"
        return f"{self.total} tokens (text {self.text} + {images})"


def measure(
    prompt: list[dict], sizes: list[tuple[int, int]], min_pixels: int, max_pixels: int, tokenizer: str | None
) -> PromptLength:
    """The prompt length of one row: `sizes` are the images' (width, height)."""
    visual = tuple(visual_tokens(w, h, min_pixels, max_pixels) for w, h in sizes)
    if tokenizer:
        return PromptLength(prompt_tokenizer(tokenizer).text_tokens(prompt), visual)
    text_bytes = sum(len(m["content"].encode("utf-8", "surrogatepass")) for m in prompt)
    return PromptLength(None, visual, math.ceil(text_bytes / MAX_TOKEN_BYTES))


def check_prompt_length(length: PromptLength, max_tokens: int | None) -> None:
    """Reject a row whose prompt verl would refuse (`max_tokens` None or 0: no limit)."""
    if max_tokens and length.least > max_tokens:
        raise Reject(
            PROMPT_TOO_LONG,
            f"prompt is {length.describe()} > --max-prompt-tokens {max_tokens}: verl would drop its whole group; "
            "lower --max-pixels or raise data.max_prompt_length with --max-prompt-tokens",
        )
