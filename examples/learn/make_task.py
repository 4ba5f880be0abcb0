"""Make the miniature WeThink task the learning benchmark trains on (`benchmarks/bench_learning.py`).

    python examples/learn/make_task.py --out outputs/learn/task

A task a tiny model can learn in minutes on a CPU, in the WeThink schema, whose answers depend on the image only:
each picture is a background in one of four colours with a white shape on it, small enough for the tiny
processor (64 visual tokens). Two routes, as in WeThink:

- rule: "What colour is the background?" with the four colours as options (A)-(D) in a fixed order: the letter
  follows from the colour, so the text alone says nothing about the answer;
- judge: "Describe the image." with a reference naming the colour, then the shape, graded by
  `keyword_judge.py` (a deterministic judge on loopback that checks which colour the answer names).

It writes `train.jsonl`, `val.jsonl` (held-out pictures) and `cold_start.jsonl`: rows for the SFT cold start whose
answers are drawn at random, on purpose. The cold start must teach the *format* (think, then answer; an option's
text for a choice, a sentence for a description), not the answers: after it, validation accuracy should sit near
chance, so that what GRPO adds is visible. And `perception.jsonl`: a caption per training picture ("Caption the
picture." -> its colour in a word), for a perception stage before the cold start. A real VLM sees before its cold
start; the tiny random model does not (a picture moves its last hidden state by ~2%), and a policy that cannot see
cannot be taught by reward which colour it sees. The captions use neither route's question nor an option letter:
answering either route's question with the picture's colour is left for GRPO. Deterministic: same seed, same Pillow,
same bytes.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

# The answer options in the order the question lists them. The colour fills the background: a coloured shape on white
# gives a tiny random vision tower nearly the same features for every colour (cosine 0.999: white dominates), a
# coloured background with a white shape gives distinct ones (cosine at most 0.37 for these four). Each name starts
# with its own token in the tiny tokenizer (re|d, gre|en, b|l|ue, p|ink): with "grey" (gre|y) the first token of the
# answer said "green or grey", a policy sampled it for every picture and chose between the two on the second token,
# and GRPO stalled at 0.50 with red answered "green" and blue "grey" (bench_learning's STATUS). Pink, not gray: the
# random vision tower's features of gray and blue were the closest pair (cosine 0.39), and blue pictures were
# answered "gray" or "green" where runs stalled; pink's are at most 0.26 from the others'.
COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "pink": (250, 120, 200)}
WHITE = (255, 255, 255)
SHAPES = ("circle", "square", "triangle")
LETTERS = "ABCD"
# 8 x 8 merged patches of 28 px: 64 visual tokens, the most the CPU backend's tiny processor admits, and 40% of the
# prompt. A tiny random model hardly attends to a picture: with 4 visual tokens (56 px) it moves the last hidden
# state by 0.4%, with 64 by 2%, and a supervised probe learns the colour in 40 steps instead of not at all.
SIZE = 224

RULE_QUESTION = "What colour is the background?\nOptions: " + " ".join(
    f"({letter}) {colour}" for letter, colour in zip(LETTERS, COLOURS, strict=True)
)
JUDGE_QUESTION = "Describe the image."
# The perception stage's question: neither route's question, so what it teaches is seeing, not this task's answers.
PERCEPTION_QUESTION = "Caption the picture."
# Short reasonings in words the tiny tokenizer knows (recipes/cpu/tiny_model.py), so the cold start is quick.
RULE_REASONING = "I compare the options."
JUDGE_REASONING = "I look at the image."
PERCEPTION_REASONING = JUDGE_REASONING


def draw(shape: str, colour: str, rng: random.Random) -> Image.Image:
    """A white shape on a background of `colour`, at a slightly random place and size."""
    img = Image.new("RGB", (SIZE, SIZE), COLOURS[colour])
    d = ImageDraw.Draw(img)
    half = rng.randint(SIZE // 7, SIZE // 4)
    cx, cy = SIZE // 2 + rng.randint(-SIZE // 8, SIZE // 8), SIZE // 2 + rng.randint(-SIZE // 8, SIZE // 8)
    box = [cx - half, cy - half, cx + half, cy + half]
    fill = WHITE
    if shape == "circle":
        d.ellipse(box, fill=fill)
    elif shape == "square":
        d.rectangle(box, fill=fill)
    else:
        d.polygon([(cx, cy - half), (cx - half, cy + half), (cx + half, cy + half)], fill=fill)
    return img


def rule_row(image: str, colour: str) -> dict:
    letter = LETTERS[list(COLOURS).index(colour)]
    return {"problem": RULE_QUESTION, "answer": letter, "category": "Multiple Choice", "abilities": "colour",
            "refined_cot": RULE_REASONING, "image_path": image, "reward": "rule"}  # fmt: skip


def judge_row(image: str, colour: str, shape: str) -> dict:
    """The reference names the colour first, where the captions do: after a cold start of "A white <shape> on
    <colour>." one sample's descriptions were garbled before the colour ("A white cirhiue.") and the judge route
    stayed at 0 through GRPO, while the rule route rose (bench_learning's STATUS)."""
    return {"problem": JUDGE_QUESTION, "answer": f"{colour}, a white {shape}.", "category": "descriptive",
            "abilities": "colour", "refined_cot": JUDGE_REASONING, "image_path": image, "reward": "model"}  # fmt: skip


def perception_row(image: str, colour: str) -> dict:
    return {"problem": PERCEPTION_QUESTION, "answer": colour, "category": "descriptive",
            "abilities": "colour", "refined_cot": PERCEPTION_REASONING, "image_path": image, "reward": "model"}  # fmt: skip


def pictures(out: Path, prefix: str, count: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """`count` pictures written under out/images, colours balanced: (relative path, colour, shape), in blocks of one
    picture of each colour (shuffled within the block)."""
    made = []
    for i in range(count):
        colour, shape = list(COLOURS)[i % len(COLOURS)], rng.choice(SHAPES)
        path = f"images/{prefix}_{i:04d}.png"
        draw(shape, colour, rng).save(out / path)
        made.append((path, colour, shape))
    blocks = [made[i : i + len(COLOURS)] for i in range(0, len(made), len(COLOURS))]
    for block in blocks:
        rng.shuffle(block)
    rng.shuffle(blocks)
    return [picture for block in blocks for picture in block]


def task_rows(made: list[tuple[str, str, str]], judge_every: int) -> list[dict]:
    """A rule row per picture and a judge row for every `judge_every`-th, in blocks: the rule rows of one picture of
    each colour, then the judge rows of the same pictures. Read in this order (`data.shuffle=False`), with a judge row
    for every picture (the default), every batch of a multiple of the block's rows holds each colour equally on each
    route. Why: a policy that hardly sees learns first what a batch rewards most, whatever the picture; in shuffled
    batches of 16 one colour outnumbers another by two or three, and runs collapsed to answering one colour for every
    picture (bench_learning's STATUS)."""
    rows = []
    for start in range(0, len(made), len(COLOURS)):
        block = made[start : start + len(COLOURS)]
        rows += [rule_row(path, colour) for path, colour, _ in block]
        rows += [judge_row(path, colour, shape) for i, (path, colour, shape) in enumerate(block, start)
                 if i % judge_every == 0]  # fmt: skip
    return rows


def cold_start_rows(made: list[tuple[str, str, str]], rng: random.Random) -> list[dict]:
    """Format lessons: the task's questions with answers drawn at random (not the picture's), one of each route.
    The choice is answered with the option's text, a colour word (the rule verifier takes it for its letter), so the
    policy names a colour on every question, as the captions and descriptions do. Taught letters, it answered the
    descriptions with a letter as well (judge route 0.00; bench_learning's STATUS), and both runs past 0.9 had moved
    from letters to words by themselves; with words, GRPO reached 1.00 on both routes in two of three runs on seed 0
    (not in the one on seed 1)."""
    rows = []
    for path, _, shape in made:
        drawn = rng.choice(list(COLOURS))
        rows.append({**rule_row(path, drawn), "answer": drawn})
        rows.append(judge_row(path, rng.choice(list(COLOURS)), shape))
    return rows


def perception_rows(made: list[tuple[str, str, str]]) -> list[dict]:
    """Captions of the training pictures, for a perception stage before the cold start (what a real VLM learned
    before the paper's cold start): the colour in words, never an option letter or either route's question."""
    return [perception_row(path, colour) for path, colour, _ in made]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def make_task(out: Path, train: int, val: int, cold_start: int, judge_every: int = 1, seed: int = 0) -> dict:
    """Write the task into `out`; returns the row counts per file."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    train_pictures = pictures(out, "train", train, rng)
    files = {
        "train.jsonl": task_rows(train_pictures, judge_every),
        "val.jsonl": task_rows(pictures(out, "val", val, rng), judge_every),
        "cold_start.jsonl": cold_start_rows(pictures(out, "cold", cold_start, rng), rng),
        "perception.jsonl": perception_rows(train_pictures),
    }
    for name, rows in files.items():
        write_jsonl(out / name, rows)
    counts = {name: len(rows) for name, rows in files.items()}
    # What the data prep and the runs need to know of the task (its pixel bounds; the rows of a balanced block, which
    # a batch read in order must be a multiple of: none when the judge rows skip pictures), so nobody restates it.
    block = 2 * len(COLOURS) if judge_every == 1 else None
    (out / "task.json").write_text(json.dumps({"pixels": SIZE * SIZE, "options": list(COLOURS), "block": block,
                                               "rows": counts}))
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--train", type=int, default=192, help="training pictures (a rule row each)")
    parser.add_argument("--val", type=int, default=48, help="held-out pictures for validation")
    parser.add_argument("--cold-start", type=int, default=64, help="pictures for the SFT cold start")
    parser.add_argument("--judge-every", type=int, default=1, help="a judge row for every N-th picture")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    counts = make_task(args.out, args.train, args.val, args.cold_start, args.judge_every, args.seed)
    print(f"task: {counts} in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
