"""A tiny but real Qwen2.5-VL stack (tokenizer, processor, optionally a random model), built offline in seconds.

Why: `--smoke` and the tests must exercise the exact processor path the rollout takes (chat template -> image
pads -> image features), a real `generate` and verl's real trainer, without downloading a 7B checkpoint.
Everything here is the genuine transformers class (`Qwen2VLImageProcessor`, `Qwen2VLVideoProcessor`, `Qwen2_5_VLProcessor`,
`Qwen2_5_VLForConditionalGeneration`); only the sizes are small. The tokenizer is a byte-level BPE trained in
memory, carrying Qwen2-VL's special tokens, so verl reads the same special-token names it reads from Qwen.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from data_prep.schema import SYSTEM_PROMPT

# Qwen2-VL's added tokens, in Qwen's order (ids follow the BPE vocabulary here, so they are small).
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# Qwen2-VL's public chat template: a default system turn, one <|vision_start|><|image_pad|><|vision_end|> per image.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# What `teach_answer_format` teaches: option letters, yes/no and small numbers, the answers most sample rows have.
TAUGHT_ANSWERS = ("A", "B", "C", "D", "Yes", "No", "2", "3", "5", "6")
TAUGHT_THINKING = "I compare the options."
TEACH_STEPS = 200  # fresh lessons each step; at 80 the format is not settled (loss 0.14-0.31 vs ~0.09)
TINY_MODEL_VERSION = "tiny-qwen25vl-v3"  # bump when what this module builds changes (v2: taught the format; v3:
# with pictures)

# Small pixel bounds keep every image at 4..64 merged patches: fast on CPU, still multi-patch.
TINY_MIN_PIXELS = 4 * 28 * 28
TINY_MAX_PIXELS = 64 * 28 * 28

_CORPUS = (
    SYSTEM_PROMPT,
    "<think> The bar for B is tallest, so the answer is B. </think> <answer> B </answer>",
    "What is the value of x in the figure? Answer with a number. 0 1 2 3 4 5 6 7 8 9 10 45 90 180 degrees",
    "How many circles are there? Is the sign red? Yes No. Describe the scene in one sentence.",
    "Choose the correct option: (A) (B) (C) (D) A. B. C. D. the of and to a in is it that for on with as",
    "Triangle ABC has AB = 5 cm, BC = 12 cm. Find AC. sqrt \\frac{1}{2} + - * / = ( ) [ ] { } , . ; : ? !",
    "You are a helpful assistant. system user assistant image chart line graph month sales store street",
)

# The lessons' question words: the corpus's, without its tags (a question never holds the answer's tags).
_LESSON_WORDS = tuple(word for word in " ".join(_CORPUS).split() if "<" not in word)


def _train_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(_CORPUS) * 4, trainer=trainer)
    return tok


def build_tiny_processor():
    """The in-memory `Qwen2_5_VLProcessor` (tokenizer + image + video processors + chat template)."""
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(),
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in ("<|endoftext|>", "<|im_end|>")],
        model_max_length=32768,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        chat_template=CHAT_TEMPLATE,
    )
    pixel_bounds = {"min_pixels": TINY_MIN_PIXELS, "max_pixels": TINY_MAX_PIXELS}
    image_processor = Qwen2VLImageProcessor(patch_size=14, merge_size=2, temporal_patch_size=2, **pixel_bounds)
    video_processor = Qwen2VLVideoProcessor(patch_size=14, merge_size=2, temporal_patch_size=2, **pixel_bounds)
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )


def build_tiny_model(tokenizer, seed: int = 0):
    """A random `Qwen2_5_VLForConditionalGeneration`: hidden 64 (2 heads of 32), 2 layers, vision depth 2 with
    `out_hidden_size` = text hidden, vocab = the tokenizer's."""
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    # head_dim 32 (not 16): the smallest size every attention backend (incl. vLLM's flash-attn) accepts
    hidden, heads = 64, 2
    head_dim = hidden // heads  # 32 -> mrope_section must sum to 16
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": hidden,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": heads,
            "num_key_value_heads": 1,  # grouped-query attention, as in Qwen2.5-VL
            "max_position_embeddings": 4096,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 6, 6]},
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": 2,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_heads": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "out_hidden_size": hidden,
            "fullatt_block_indexes": [1],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    assert sum(config.text_config.rope_parameters["mrope_section"]) == head_dim // 2
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
        do_sample=False,
    )
    return model


def _lesson_picture(rng):
    """A picture of random size (4..64 merged patches after resizing) with a random background and a few filled
    rectangles: something like the sample's charts, so a lesson's image pads look like a real prompt's."""
    from PIL import Image, ImageDraw

    width, height = rng.randint(2, 16) * 28, rng.randint(2, 16) * 28
    picture = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(picture)
    for _ in range(rng.randint(0, 4)):
        x, y = rng.randrange(width), rng.randrange(height)
        box = (x, y, min(width, x + rng.randint(4, width)), min(height, y + rng.randint(4, height)))
        draw.rectangle(box, fill=tuple(rng.randrange(256) for _ in range(3)))
    return picture


def _format_lessons(processor, rng, rows: int = 40) -> dict:
    """One batch of `rows` chats, drawn fresh from `rng`: the system prompt, a user turn of random corpus words
    (random length), after a random picture in every other row, and a well-formed response with an answer from
    TAUGHT_ANSWERS; the loss on the response only.

    Why each part: random words teach the format whatever the question; pictures, that image pads do not change
    it (taught on text alone, the model built on an AVX2 CPU answered the sample's image prompts well-formed 15%
    of the time greedy, 5% sampled); a fresh batch each step, that the model cannot memorise a fixed batch
    instead (memorised, the format on new prompts went from 0.25 to 0.95 greedy with the initial seed alone, and
    so, we infer, with a CPU's rounding)."""
    import torch

    tokenizer = processor.tokenizer
    texts, pictures, response_lengths = [], [], []
    for row in range(rows):
        question = " ".join(rng.choice(_LESSON_WORDS) for _ in range(rng.randint(2, 48)))
        content: object = question
        if row % 2 == 0:
            pictures.append(_lesson_picture(rng))
            content = [{"type": "image"}, {"type": "text", "text": question}]
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": content}]
        prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        answer = TAUGHT_ANSWERS[row % len(TAUGHT_ANSWERS)]
        response = f"<think>{TAUGHT_THINKING}</think><answer>{answer}</answer>{tokenizer.eos_token}"
        texts.append(prompt + response)
        response_lengths.append(len(tokenizer.encode(response, add_special_tokens=False)))
    # left padding (the tokenizer's): every row's response ends at the last column
    batch = dict(processor(text=texts, images=pictures, padding=True, return_tensors="pt"))
    labels = torch.full_like(batch["input_ids"], -100)
    for row, length in enumerate(response_lengths):
        labels[row, -length:] = batch["input_ids"][row, -length:]
    batch["labels"] = labels
    return batch


def teach_answer_format(model, processor, steps: int = TEACH_STEPS, seed: int = 0) -> float:
    """Teach the random model the paper's answer format; returns the last loss.

    Why: a random model never writes `<think>..</think><answer>..</answer>`, so every reward is 0, every GRPO
    advantage 0 and every update a no-op. After TEACH_STEPS steps of next-token training (`_format_lessons`),
    sampled rollouts on the sample's prompts are mostly well-formed (60-86% over four initial seeds) with
    answers that differ, and now and then malformed: reward variance that comes from the model itself, on any
    rollout backend (vLLM, hf_cpu), with nothing forced. The lr decays to 0 so the model ends where the loss
    settled (~0.09: the answer is a free draw of ten)."""
    import random

    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    # decayed to 0: the model ends where the loss settled, not wherever the last large step threw it
    schedule = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0, end_factor=0.0, total_iters=steps)
    loss = None
    for _ in range(steps):
        optimizer.zero_grad()
        loss = model(**_format_lessons(processor, rng)).loss
        loss.backward()
        optimizer.step()
        schedule.step()
    model.eval()
    return loss.item()


def build_tiny_qwen25vl(path: str | os.PathLike, with_model: bool = False, taught: bool = False) -> str:
    """Write the tiny stack to `path` so `AutoProcessor/AutoTokenizer/AutoModelForImageTextToText.from_pretrained`
    load it like a real checkpoint; returns the path as a string. `taught`: the model has learned the answer
    format (`teach_answer_format`), as `--smoke` needs it."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    processor = build_tiny_processor()
    processor.save_pretrained(out)
    processor.tokenizer.save_pretrained(out)
    if with_model:
        model = build_tiny_model(processor.tokenizer)
        if taught:
            teach_answer_format(model, processor)
        model.save_pretrained(out)
    return str(out)


def cache_dir() -> Path:
    """Where `--smoke` keeps what it builds once (WETHINK_CACHE, else ~/.cache/wethink-verl)."""
    root = os.environ.get("WETHINK_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "wethink-verl")
    return Path(root)


def ensure_tiny_model(root: Path | None = None) -> Path:
    """The tiny Qwen2.5-VL (tokenizer, processor, random weights taught the answer format, so that rollouts on
    any backend have reward variance), built once into the cache; a half-written build never looks finished
    (built in a temporary folder, renamed at the end)."""
    target = (root or cache_dir()) / TINY_MODEL_VERSION
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{TINY_MODEL_VERSION}-", dir=target.parent))
    try:
        build_tiny_qwen25vl(staging, with_model=True, taught=True)
        try:
            staging.rename(target)
        except OSError:  # another process finished first: theirs is as good as ours
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
