"""Does the recipe learn? A miniature WeThink on this CPU: cold start, then GRPO with the hybrid reward.

    python benchmarks/bench_learning.py [--out outputs/learning] [--runs grpo,dapo,shuffled,lr0] [--steps 40] [--set KEY=VALUE]
                                        [--cold-start DIR]

The paper's pipeline, with the repo's own commands, on a task a tiny model can learn in minutes
(`examples/learn/make_task.py`: the background colour of a picture, as a multiple choice on the rule route and as a
description graded by a deterministic judge on loopback, `examples/learn/keyword_judge.py`):

1. the task's JSONL -> verl parquet (`python -m data_prep.wethink`, held-out pictures for validation) and the two SFT
   stages' exports (`python -m data_prep.sft`);
2. perception, then the cold start, both `recipes/wethink/run_sft.sh --smoke`: perception from the CPU backend's
   tiny model (it knows only the answer format) on captions of the training pictures (the colour in a word; neither
   route's question, no option letter), as a real VLM sees before the paper's cold start; then the cold start from
   it, on rows whose answers are drawn at random (a colour word for a choice, a sentence for a description), with
   the captions mixed in: it teaches this task's format, not its answers, and keeps the picture in view;
3. GRPO from the cold start's checkpoint with `run_grpo.sh --smoke` (the paper's config and hybrid reward, verl's
   real trainer, the rollout named by --rollout), validation on the held-out rows every few steps; the same run with
   the DAPO variant's launcher; and two negative controls, everything else equal: the training rows' answers
   shuffled across rows of the same route (the reward no longer follows the picture), and lr=0.

It prints start and end validation accuracy per route for each run, the steps each needed to reach 0.9 on the rule
route, wall time and peak memory; writes the learning curves (`learning.png`), each run's plot by the project's run
plot (`<run>/run.png`) and `results.json`. Its last line:
`learning: rule acc S -> E, judge acc S -> E; shuffled E, lr0 E` (GRPO's validation accuracies; the controls' rule
accuracy at their last step).

What it would prove: the reward reaches the policy gradient with the right sign and scale through verl's own
trainer, on both routes. What it cannot: anything about scale (a 2-layer model, 64 hidden units) or real images.

STATUS (issue 21, open): it learns. Since the cold start answers a choice with the option's text, a colour word
(`examples/learn/make_task.py`; before, a letter), GRPO has taken both routes from chance to 1.00 in two of four
runs, and DAPO in its one run (0.9 at step 30 for both), while both controls stay at chance. Four runs with the
settings of this file (`--runs grpo,shuffled,lr0,dapo`: 40 steps, validation every 5, hf_cpu rollout, 16 prompts x 5
rollouts, lr 1e-3), one quiet 2-core machine, from one cold start (91 s; reused with `--cold-start`), 1929 s in all:

  run       rule acc (validation, every 5 steps)              judge acc     wall, peak
  grpo      0.25 0.25 0.25 0.50 0.50 0.75 1.00 1.00 1.00    0.21 -> 1.00  408 s, 7.0 GiB
  shuffled  0.25 at every validation                        0.21 flat     421 s, 7.0 GiB
  lr0       0.25 at every validation                        0.21 flat     454 s, 7.0 GiB
  dapo      0.25 0.25 0.50 0.50 0.50 0.75 1.00 1.00 1.00    0.21 -> 1.00  632 s, 7.2 GiB

Its last line: `learning: rule acc 0.25 -> 1.00, judge acc 0.21 -> 1.00; shuffled 0.25, lr0 0.25`. The first run
with this cold start (`--runs grpo`): 0.25 0.25 0.44 0.50 0.50 0.50 0.75 0.75 1.00, judge 0.21 -> 1.00 from step 30
(458 s, 7.0 GiB). Every colour answered by its word at the end of all three. What it does not yet meet: 0.9 within
about 6 minutes (GRPO's run is 7-8, DAPO's 10-11), a CI test (three such runs do not fit CI's budget), a rise that
holds on every sample of the task. The third GRPO run, on another sample of the task (`--seed 1`, its own cold
start), stayed at chance: rule 0.25 at every validation but one (0.50 at step 35), judge 0.33 flat, every picture
answered "blue" at the end (456 s, 7.0 GiB). A fourth run (seed 0, its own cold start, on a slower machine: 642 s,
7.2 GiB, ~12 s a step) ended at 0.75: 0.25 0.25 0.25 0.50 0.50 0.50 0.75 0.75 0.75, judge 0.21 -> 0.79 (blue
answered "green"). So the word cold start lifted two runs of three on seed 0 and none of one on seed 1.

Why runs stall (found after, with a probe): perception does not pass every colour to the answer. Each stage's model
scored on held-out pictures by the probability of each colour's first token after the forced prefix
`<think>I look at the image.</think><answer>` of the caption question (one forward pass a picture; the training
pictures give the same figures):
  perception as set here (60 steps at 5e-3, batches of 16), seed 0: red 1.00, green 0.95, gray 0.48, blue confused
    (0.36 green, 0.24 blue, 0.39 gray); seed 1: red 0.99, and green, blue and gray pictures get one distribution
    (0.15 / 0.46 / 0.36): beyond red it is blind. 200 steps at 5e-3, 120 at 1e-3: the same; 60 at 2e-2 breaks the
    format. Its training loss sits at 0.02-0.04 from step 40 (the colour is one token of ~25 in each caption);
  the same in batches of 48 (seed 1): all four right by argmax (red 1.00, green 0.58, blue 0.39, gray 0.31);
  but this file's cold start (random colour words on the task's own pictures) then undoes it: green, blue and gray
    back to one distribution (0.30-0.35 each), red 0.89.
The vision tower tells the colours apart (cosine of its mean output over pictures with shapes: blue/gray 0.39 the
closest pair, gray/white 0.88, white being every shape's colour); what is lost is on the way to the answer, in the
2-layer language model. GRPO starts from what perception passed on and must teach the rest by reward: seed 1's run
answered "blue" for everything, seed 0's 0.75 run "green" for blue. The earlier figure "held-out captions 1.00" (below)
was measured on an earlier version of the task.

Tried since (not kept; GRPO 20-30 steps each, one run each, hf_cpu, 16 x 5):
- perception in batches of 48, gray replaced by pink (cosine to the others at most 0.26; p|ink has its own first
  token), and the cold start's pictures on backgrounds that are none of the options' colours (black, yellow, white,
  brown), so its random answers contradict nothing perception taught. Perception is then near perfect (seed 0: 0.99
  or more for every colour, 0.95 or more after the cold start) and the format holds (held-out choices 1.00,
  descriptions 0.88 on seed 1, 0.54 on seed 0; choices 0.40 with black alone), but perception now carries over to the
  rule question: seed 0 starts the rule route at 0.75 (not chance) and reaches 0.94 at step 10, 1.00 at 15, while the
  descriptions collapse to the bare word "red" (judge 0.29 -> 0.21; 473 s, 20 steps). Seed 1 with black alone: rule
  0.00 (format 0.50) -> 1.00 at step 5, judge 0.33 -> 0.67. Seed 1 with gray kept and a yellow background: gray
  answered "blue" from step 10 to 25, where it was stopped (rule 0.50 -> 0.75, judge 0.12 -> 0.71).
- perception in batches of 48 and pink for gray, this file's cold start otherwise (seed 1): after the cold start
  every colour right by argmax (red 1.00, green 0.60, blue 0.49, pink 0.99), choices well formed 1.00 and at
  chance (0.25, all "blue"), descriptions well formed 0.58; GRPO: rule 0.25 -> 0.75 at step 5, 0.75 at step 20
  (blue answered "green"), judge 0.25 -> 0.42. Better than this file's settings on seed 1 (flat), not 0.9;
- a cold start giving every cold-start picture each colour word once (its SFT optimum is uniform: rollouts at step 1
  name all four colours) collapsed to "red" on both routes by step 6 (seed 1); with every batch holding each route's
  colours in equal shares as well (rows reordered, `data.shuffle=False`, 12 prompts): red learned, green, blue and
  gray still mixed at step 30, the descriptions collapsed to "red" by step 10 (rule 0.50, judge 0.12).
The descriptions' collapse to one bare colour word is the judge route's failure in every variant: a short
well-formed answer outscores an uncertain policy's garbled sentences on format (0.3), and once all five rollouts of
a group say the same word the group carries no signal.

Before (the cold start taught a letter for a choice), the rise was not reliable: one run's end point moved by a
colour or two, 0.9 was reached in one of about a dozen GRPO runs and one of three DAPO runs. Its four runs (the
same settings otherwise; cold start 81 s, 1993 s in all):

  run       rule acc (validation, every 5 steps)              judge acc     wall, peak
  grpo      0.25 0.25 0.25 0.25 0.25 0.50 0.50 0.50 0.50    0.21 -> 0.50  473 s, 6.9 GiB
  shuffled  0.25 at every validation                        0.21 -> 0.00  436 s, 6.9 GiB
  lr0       0.25 at every validation                        0.21 flat     471 s, 7.0 GiB
  dapo      0.25 0.25 0.25 0.25 0.50 0.25 0.25, then a crash in verl at step 31 (below)       527 s, 7.3 GiB

The same GRPO settings in a run just before: 0.25 0.50 0.25 0.50 0.50 0.75 0.75 0.75 0.75, judge 0.21 -> 0.71 (435 s,
6.9 GiB). The four runs before those ("grey" task, lr 2e-3, the earlier cold start): GRPO and DAPO 0.25 -> 0.75
(judge 0.54 -> 0.79), shuffled and lr0 at 0.25 (456 / 650 / 437 / 421 s, 6.9-7.5 GiB).

What limited it (each validation's answers land in `<run>/validation/<step>.jsonl`; the last one's rule answers are
printed per right option):
- the policy answers the rule question with a colour word as often as with a letter (the verifier takes an option's
  text for its letter), and stalls on the colours no rollout of a group names: every plateau is a colour answered
  with another's word;
- found and fixed: in the tiny tokenizer "green" and "grey" began with the same token (gre|en, gre|y). Every 0.50
  plateau of the "grey" task was red answered "green" and blue "grey" (four runs: 5 or 10 rollouts, 8 or 16 prompts):
  the policy wrote "gre" for every picture and chose on the second token. The task's fourth colour is now "gray"
  (gra|y). With it, blue was named in the first run (red, green, blue right; gray answered "blue");
- lr 2e-3 threw a "gray" run out of its format at step 5 (KL loss 0.12 -> 1.08, training score 0.35 -> 0.07,
  validation format 0.00); at 1e-3 (now) the lowest validation format in three runs was 0.83;
- the old cold start undid part of perception (held-out captions 1.00 after perception, 0.60 after 30 steps at
  5e-3); 60 steps at 2e-3 keep 1.00 and still teach the format (a letter for a choice, always "A": chance).
- a DAPO run crashed at step 31 inside verl (`compute_log_prob` -> `rearrange_micro_batches` ->
  `index_select_tensor_dict` -> nested tensor `unbind`: `lengths_sum <= ragged_dim_size` is false); verl's own
  `chunk_tensordict` works around a PyTorch bug in `unbind` of 3D jagged tensors (mRoPE position ids,
  pytorch#153238), `index_select_tensor_dict` does not. Not yet reproduced alone or patched.

GRPO runs of 40 steps (rule acc every 5 steps; judge start -> end; GRPO wall, peak), one each:
  "grey", lr 2e-3, 16 x 5     0.25 0.50 0.50 0.50 0.50 0.50 0.50 0.50 0.50   0.58 -> 0.58   425 s, 7.1 GiB
  "grey", lr 2e-3, 16 x 10    0.25 0.25 0.25 0.75 0.50 0.50 0.50 0.50 1.00   0.58 -> 0.79   689 s, 7.9 GiB
  "grey", lr 2e-3, 16 x 10    0.25 0.25 0.50 0.50 0.50 0.50 (60 steps planned, stopped at 25)
  "grey", lr 2e-3, 8 x 10     0.25 0.25 0.50 0.50 0.50 0.50 0.50 0.50 0.50   0.58 -> 0.58   378 s, 7.1 GiB
  "grey", lr 2e-3, temp 1.5   0.25 0.25 0.25 0.46 0.50 0.50 0.50 0.50 0.50   0.58 -> 0.58   432 s, 7.0 GiB
  "gray", lr 2e-3, 16 x 5     0.25 0.00 0.00 0.25 0.25 (format lost at step 5, stopped at 20)
  "gray", lr 1e-3, 16 x 5     0.25 0.50 0.25 0.50 0.50 0.75 0.75 0.75 0.75   0.21 -> 0.71   435 s, 6.9 GiB
  "gray", lr 1e-3, 16 x 10    0.25 0.25 0.25 0.25 0.50 0.38 0.50 0.50 0.50   0.21 -> 0.50   813 s, 7.9 GiB
  (16 x 10 = `--rollouts 10`; 8 x 10 = `--prompts 8 --rollouts 10`; the 813 s run shared the CPU with a probe.)
Later runs with the letter cold start, all from one cold start of it (`--cold-start`), one each:
  GRPO, 4 updates a step      0.25 0.25 0.48 0.50 0.50 0.50 0.25 0.50 0.50   0.21 -> 0.00   517 s, 6.6 GiB
  DAPO                        0.25 0.25 0.25 0.50 0.50 0.50 0.50 1.00 0.75   0.21 -> 0.71   644 s, 7.3 GiB
  DAPO, again                 0.25 0.25 0.25 0.25 0.25 0.35 0.46 0.50 0.50   0.21 -> 0.00   589 s, 7.1 GiB
- DAPO reached 1.00 at step 35, the first run at these settings past 0.9: all four colours answered with their
  word (red, green, blue, gray), the perception stage's captions carried over to the rule question; at step 40 gray
  was answered "blue" again. Run again from the same cold start: 0.50 (red and green answered "A", blue and gray
  "C"). Neither crashed (the crash above did not recur).
- The rule route's letters leak into the judge route: with 4 updates a step (`--set
  actor_rollout_ref.actor.ppo_mini_batch_size=4`, the paper's 512 / 128) every description was "A" or "C" from step
  10, in the second DAPO run from step 10 (after garbled ones at step 5); judge 0.00 in both. A 2-layer model tells
  the two questions apart poorly; a letter scores the format's 0.3 on either route.
- In these runs DAPO's clip-higher does nothing: each step makes one on-policy update (ppo_mini_batch_size = the
  prompts), the probability ratio is 1 and `actor/pg_clipfrac` stays 0.00; what DAPO adds here is dynamic sampling
  (5-37 samples evicted a step, so each step trains on groups that carry signal; 8-21 s a step, GRPO ~9.5 s).
- What changed it: both runs past 0.9 had moved from letters to words by themselves, and the letters were what leaked
  into the descriptions. A cold start that answers a choice with a random colour word (now) puts all three questions
  (captions, choices, descriptions) in one vocabulary: the perception stage's mapping from picture to word is what
  GRPO has to bring to the other two questions, and an answer that crosses routes is still a colour.
Next: a cold start that keeps what perception passes on (batches of 48, pink) without handing it to the rule
question, and descriptions that do not collapse to one word; then runs per seed, 0.9 within about 6 minutes, the CI
test, the DAPO crash reproduced and patched. Earlier, longer runs ("grey", old cold start, 5 rollouts): 100 steps sat
at 0.75 from step 50 to 100 (judge 0.54 -> 0.79, entropy 0.20 -> 0.03).

Tried and dropped (in verl, 25-30 steps each): a cold start whose reasoning names the picture's colour
("<think>blue</think>", answers balanced at random; think right 1.00 after 120 SFT steps, accuracy at chance) so GRPO
would only have to map its own word to the letter: rule 0.50 at steps 15-20 and back to 0.25 at 25 (lr 1e-3), flat at
5e-4, drifted to 0.02 at 2e-3 (KL loss 1.5), though the proxy learned it in 25 steps at 5e-4.

Earlier findings:
- a bug found by this benchmark, fixed in recipes/cpu/rollout.py (83d630e): the hf_cpu rollout generated blind.
  transformers 5's Qwen2.5-VL places the picture by `mm_token_type_ids`; the rollout passed pixel_values and
  image_grid_thw only (every validation answer of a cold-started model was "<answer>C</answer>");
- perception (an earlier version of the task): 60 steps at 5e-3 on captions, held-out captions 0 -> 1.00 (greedy);
  on this version it passes red only on seed 1, red, green and gray on seed 0 ("Why runs stall" above);
- a random-answer cold start alone undoes it: a linear probe reads the colour at the answer letter's position
  perfectly in every model, but the picture's share of that state is 1.4% in the random model, 29% after
  perception, 1.6-3.7% after a cold start of random answers, 6% with the captions mixed in (this default);
  from the plain cold start GRPO stayed at chance for 15-25 steps;
- warm-up: at 2e-3 without it, the format fell 1.00 -> 0.03 after step 1; with 3 steps it stays at 0.93-1.00;
- the vLLM rollout (`--rollout vllm`) went over 7 GiB (PSS of the run) before its first validation.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from recipes.wethink.plot_run import load_scalars  # noqa: E402

RULE_ACC, JUDGE_ACC, FORMAT = "val-aux/wethink/rule/acc", "val-aux/wethink/model/acc", "val-aux/wethink/format"
GOAL = 0.9  # the rule route's validation accuracy a learning run must reach
JUDGE_KEY_ENV = "LEARNING_JUDGE_KEY"  # the keyword judge ignores keys; the reward still reads one from the environment

# Settings of the runs, the same for every run (the controls change one thing each). The paper's values where they
# make sense for a 2-layer model: GRPO, 5 rollouts per prompt, KL loss low_var_kl 0.01; its lr (1e-6, for 7B
# pretrained weights) would not move a tiny random model in 40 steps.
# The cold start: 60 steps at 2e-3 teach the format and keep part of what perception taught (30 steps at 5e-3 kept
# less on an earlier task version, and GRPO cannot teach a colour the policy no longer sees; STATUS: "Why runs stall").
SFT_STEPS, SFT_LR = 60, 2e-3
# The perception stage (captions: the colour in a word) before the cold start: 60 steps at 5e-3 take the training
# loss from 4.7 to 0.02-0.04, and on held-out pictures pass red always, not every colour (STATUS: "Why runs stall";
# batches of 48 pass all four).
PERCEPTION_STEPS, PERCEPTION_LR = 60, 5e-3
GRPO_LR = 1e-3  # 2e-3 once threw the policy out of its format at step 5 (KL loss 0.12 -> 1.08, score 0.35 -> 0.07)
# Adam's first step moves every weight by the full lr: at 2e-3 without warm-up the format fell to 0.03 after step 1
LR_WARMUP_STEPS = 3
PROMPTS_PER_STEP = 16
RESPONSE_TOKENS = 48  # a well-formed answer is 20-30 tokens of the tiny tokenizer


@dataclass(frozen=True)
class Run:
    """One training run: a launcher of the repo, and what differs from the GRPO run."""

    name: str
    launcher: str
    overrides: tuple[str, ...] = ()
    shuffled: bool = False  # train on the rows with answers shuffled across rows of the same route


RUNS = {
    "grpo": Run("grpo", "run_grpo.sh"),
    "dapo": Run("dapo", "recipes/wethink/run_wethink_dapo.sh"),
    "shuffled": Run("shuffled", "run_grpo.sh", shuffled=True),
    "lr0": Run("lr0", "run_grpo.sh", overrides=("actor_rollout_ref.actor.optim.lr=0",)),
}


@dataclass
class Result:
    name: str
    seconds: float
    peak_gib: float
    returncode: int
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    def start(self, tag: str) -> float | None:
        return self.curves[tag][0][1] if self.curves.get(tag) else None

    def end(self, tag: str) -> float | None:
        return self.curves[tag][-1][1] if self.curves.get(tag) else None

    def steps_to(self, tag: str, goal: float) -> int | None:
        return next((step for step, value in self.curves.get(tag, []) if value >= goal), None)


# ----------------------------------------------------------------------------------------------------------- steps


def sh(command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    """Run one of the repo's commands, its output to `log`; a failure stops the benchmark naming the log."""
    with log.open("w") as out:
        code = subprocess.run(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    if code:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
        raise SystemExit(f"{' '.join(command[:4])} ... failed (exit {code}); the end of {log}:\n{tail}")


def prepare(out: Path, args) -> dict[str, Path]:
    """The task (JSONL + pictures), its parquet (train / held-out val), the cold start's export, the shuffled copy."""
    task, data = out / "task", out / "data"
    py = sys.executable
    sh([py, "examples/learn/make_task.py", "--out", str(task), "--train", str(args.train_pictures),
        "--val", str(args.val_pictures), "--seed", str(args.seed)], out / "make_task.log")  # fmt: skip
    size = json.loads((task / "task.json").read_text())["pixels"]  # every picture at its own size
    pixels = ["--min-pixels", str(size), "--max-pixels", str(size)]
    for split in ("train", "val"):  # prepared apart, so validation holds pictures training never shows
        sh([py, "-m", "data_prep.wethink", "--jsonl", str(task / f"{split}.jsonl"), "--image-root", str(task),
            "--out", str(data / split), "--embed-images", "--val-size", "0", "--no-progress", "--overwrite", *pixels],
           out / f"prepare_{split}.log")  # fmt: skip
    # The cold start's rows: the format lessons (random answers) with the captions mixed in, so the cold start does
    # not teach the policy to look away from the picture (without them, the picture's share of the state at the
    # answer letter falls from 29% after perception to 2-4%, and GRPO stays at chance).
    lessons = (task / "cold_start.jsonl").read_text() + (task / "perception.jsonl").read_text()
    (task / "cold_start_with_captions.jsonl").write_text(lessons)
    for stage, rows in (("perception", "perception"), ("cold_start", "cold_start_with_captions")):
        sh([py, "-m", "data_prep.sft", "--jsonl", str(task / f"{rows}.jsonl"), "--image-root", str(task),
            "--out", str(data / f"{stage}.parquet"), "--format", "verl", "--embed-images", "--no-progress",
            "--overwrite", *pixels], out / f"prepare_{stage}.log")  # fmt: skip
    train = data / "train" / "train.parquet"
    shuffled = data / "shuffled"
    shuffle_answers(train, shuffled / "train.parquet", args.seed)
    shutil.copy(data / "train" / "val.parquet", shuffled / "val.parquet")  # empty: data.val_files is set per run
    return {"train": data / "train", "val": data / "val" / "train.parquet", "shuffled": shuffled,
            "cold_start": data / "cold_start.parquet", "perception": data / "perception.parquet",
            "pixels": size}  # fmt: skip


def shuffle_answers(src: Path, dst: Path, seed: int) -> None:
    """The rows of `src` with their ground truths permuted among rows of the same route: the same prompts and the
    same answer distribution, but an answer that no longer follows the picture."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    rows = table.to_pylist()
    rng = random.Random(seed)
    for style in {row["reward_model"]["style"] for row in rows}:
        same = [row for row in rows if row["reward_model"]["style"] == style]
        truths = [row["reward_model"]["ground_truth"] for row in same]
        rng.shuffle(truths)
        for row, truth in zip(same, truths, strict=True):
            row["reward_model"] = {**row["reward_model"], "ground_truth": truth}
    dst.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), dst)


def sft(stage: str, out: Path, rows: Path, lr: float, steps: int, env: dict[str, str],
        model: Path | None = None) -> Path:
    """`run_sft.sh --smoke` on `rows` (from `model`, else the CPU backend's tiny model); returns the checkpoint's
    huggingface/ folder."""
    ckpt = out / stage
    shutil.rmtree(ckpt, ignore_errors=True)
    sh(["bash", "recipes/wethink/run_sft.sh", "--smoke", f"optim.lr={lr}", "optim.lr_warmup_steps_ratio=0",
        "optim.lr_scheduler_type=constant", f"trainer.total_training_steps={steps}", "trainer.total_epochs=100",
        f"data.train_batch_size={PROMPTS_PER_STEP}", f"data.micro_batch_size_per_gpu={PROMPTS_PER_STEP}",
        f"trainer.save_freq={steps}", "trainer.test_freq=-1", *([f"model.path={model}"] if model else [])],
       out / f"{stage}.log", {**env, "SFT_FILE": str(rows), "CKPT_DIR": str(ckpt)})  # fmt: skip
    trained = ckpt / f"global_step_{steps}" / "huggingface"
    if not (trained / "config.json").is_file():
        raise SystemExit(f"the {stage} stage wrote no model at {trained} (see {out / f'{stage}.log'})")
    return trained


def cold_start(out: Path, data: dict[str, Path], env: dict[str, str]) -> Path:
    """Perception (captions), then the cold start (the format, random answers, the captions again), both with
    `run_sft.sh --smoke`; returns the cold start's huggingface/ folder."""
    seeing = sft("perception", out, data["perception"], PERCEPTION_LR, PERCEPTION_STEPS, env)
    return sft("cold_start", out, data["cold_start"], SFT_LR, SFT_STEPS, env, model=seeing)


class KeywordJudge:
    """`examples/learn/keyword_judge.py` on a free loopback port, for the length of a `with` block."""

    def __enter__(self) -> str:
        self.proc = subprocess.Popen([sys.executable, "examples/learn/keyword_judge.py", "--port", "0"], cwd=REPO,
                                     stdout=subprocess.PIPE, text=True)  # fmt: skip
        return self.proc.stdout.readline().strip()

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class PeakMemory:
    """Peak PSS of a process and all its descendants, sampled every second (Ray's workers included)."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(1.0):
            try:
                root = psutil.Process(self.pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for proc in procs:
                try:
                    total += proc.memory_full_info().pss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            self.peak = max(self.peak, total)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 2**30


def train(run: Run, out: Path, model: Path, data: dict[str, Path], judge_url: str, env: dict[str, str], args) -> Result:
    """One run of a launcher's config through the one launch entry (`--smoke`: verl's trainer on this CPU)."""
    run_dir = out / run.name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    run_env = {
        **env,
        "DATA_DIR": str(data["shuffled" if run.shuffled else "train"]),
        "CKPT_DIR": str(run_dir / "ckpt"),
        "TENSORBOARD_DIR": str(run_dir / "tensorboard"),
        "LOGGER": "[console,tensorboard]",
        "JUDGE_URL": judge_url,
        "JUDGE_MODEL": "keyword-judge",
        "JUDGE_API_KEY_ENV": JUDGE_KEY_ENV,
        JUDGE_KEY_ENV: "unused",
    }
    overrides = [
        f"actor_rollout_ref.model.path={model}",
        f"actor_rollout_ref.rollout.name={args.rollout}",
        f"data.val_files={data['val']}",
        f"data.train_batch_size={args.prompts}",
        *([f"actor_rollout_ref.rollout.n={args.rollouts}"] if args.rollouts else []),  # else the launcher's (5)
        f"actor_rollout_ref.actor.ppo_mini_batch_size={args.prompts}",  # one update per step: on-policy
        f"actor_rollout_ref.actor.optim.lr={GRPO_LR}",
        f"actor_rollout_ref.actor.optim.lr_warmup_steps={LR_WARMUP_STEPS}",
        f"data.max_response_length={RESPONSE_TOKENS}",
        f"data.min_pixels={data['pixels']}",  # the task's pictures, not --smoke's tiny bounds
        f"data.max_pixels={data['pixels']}",
        f"trainer.total_training_steps={args.steps}",
        "trainer.total_epochs=1000",  # the steps decide
        f"trainer.test_freq={args.test_freq}",
        "trainer.save_freq=-1",  # nothing to resume: no checkpoint writes in the timed loop
        f"trainer.validation_data_dir={run_dir / 'validation'}",  # each validation's answers, to read per colour
        *args.set,  # the user's, for every run; a control's own change still wins
        *run.overrides,
    ]
    log = run_dir / "train.log"
    started = time.monotonic()
    with log.open("w") as out_file:
        proc = subprocess.Popen(["bash", run.launcher, "--smoke", *overrides], cwd=REPO, env=run_env,
                                stdout=out_file, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        memory = PeakMemory(proc.pid)
        code = proc.wait()
        peak = memory.stop()
        try:  # whatever the run left in its own session (its Ray's processes), so the next run starts alone
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    result = Result(run.name, time.monotonic() - started, peak, code)
    if code:
        print(f"{run.name}: exit {code}; see {log}", file=sys.stderr)
        return result
    scalars = load_scalars(run_dir / "tensorboard")
    result.curves = {tag: scalars.get(tag, []) for tag in (RULE_ACC, JUDGE_ACC, FORMAT)}
    subprocess.run([sys.executable, "-m", "recipes.wethink.plot_run", str(run_dir / "tensorboard"), "--out",
                    str(run_dir / "run.png")], cwd=REPO, stdout=subprocess.DEVNULL, check=False)  # fmt: skip
    return result


# ---------------------------------------------------------------------------------------------------------- report


def fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.2f}"


def table(results: list[Result]) -> str:
    lines = [f"{'run':<9} {'rule acc':>13} {'judge acc':>13} {'format':>13} {'steps to 0.9':>13} {'wall':>7} {'peak':>8}"]
    for r in results:
        cells = [f"{fmt(r.start(tag))} -> {fmt(r.end(tag))}" for tag in (RULE_ACC, JUDGE_ACC, FORMAT)]
        reached = r.steps_to(RULE_ACC, GOAL)
        lines.append(f"{r.name:<9} {cells[0]:>13} {cells[1]:>13} {cells[2]:>13} {reached if reached is not None else '-':>13} "
                     f"{r.seconds:>6.0f}s {r.peak_gib:>6.1f}GiB" + ("" if not r.returncode else f"  exit {r.returncode}"))
    return "\n".join(lines)


def plot(results: list[Result], out: Path) -> None:
    """Validation accuracy per route against the step, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharex=True)
    for ax, (tag, title) in zip(axes, ((RULE_ACC, "rule route: accuracy"), (JUDGE_ACC, "judge route: accuracy"),
                                       (FORMAT, "format")), strict=True):  # fmt: skip
        for r in results:
            points = r.curves.get(tag) or []
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, marker="o", markersize=3, label=r.name)
        if tag == RULE_ACC:
            ax.axhline(GOAL, color="grey", linestyle=":", linewidth=1)
            ax.axhline(0.25, color="grey", linestyle="--", linewidth=0.8)  # chance: one of four options
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title)
        ax.set_xlabel("training step")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("Validation on held-out pictures: a tiny Qwen2.5-VL, cold start then GRPO (verl on CPU)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def rule_answers(run_dir: Path) -> str:
    """What the run's last validation answered on the rule route, per right option: where a plateau comes from
    (a colour the policy never names reads as `C blue: grey 12`)."""
    from collections import Counter, defaultdict

    from rewards.format import extract_answer

    dumps = sorted((run_dir / "validation").glob("*.jsonl"), key=lambda path: int(path.stem))
    if not dumps:
        return "no validation dump"
    options = json.loads((run_dir.parent / "task" / "task.json").read_text())["options"]
    answers: dict[str, Counter] = defaultdict(Counter)
    for line in dumps[-1].read_text().splitlines():
        row = json.loads(line)
        if row.get("route_rule"):
            answers[row["gts"]][extract_answer(row["output"]) or "(none)"] += 1
    cells = []
    for letter, colour in zip("ABCDEFGH", options):
        said = ", ".join(f"{answer} {n}" for answer, n in answers[letter].most_common())
        cells.append(f"{letter} {colour}: {said or '-'}")
    return f"step {dumps[-1].stem}, " + " | ".join(cells)


def last_line(results: dict[str, Result]) -> str:
    grpo = results.get("grpo")
    parts = []
    if grpo:
        parts.append(f"rule acc {fmt(grpo.start(RULE_ACC))} -> {fmt(grpo.end(RULE_ACC))}, "
                     f"judge acc {fmt(grpo.start(JUDGE_ACC))} -> {fmt(grpo.end(JUDGE_ACC))}")  # fmt: skip
    controls = [f"{name} {fmt(results[name].end(RULE_ACC))}" for name in ("shuffled", "lr0") if name in results]
    return "learning: " + "; ".join(filter(None, [", ".join(parts), ", ".join(controls)]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "learning")
    parser.add_argument("--runs", default="grpo,dapo,shuffled,lr0", help=f"comma-separated, of {', '.join(RUNS)}")
    parser.add_argument("--steps", type=int, default=40, help="GRPO steps per run")
    parser.add_argument("--test-freq", type=int, default=5, help="validate every N steps (and before training)")
    parser.add_argument("--prompts", type=int, default=PROMPTS_PER_STEP, help="GRPO prompts per step")
    parser.add_argument("--rollouts", type=int, help="rollouts per prompt (default: the launcher's, the paper's 5)")
    parser.add_argument("--rollout", default="hf_cpu", choices=("hf_cpu", "vllm"))
    parser.add_argument("--train-pictures", type=int, default=192)
    parser.add_argument("--val-pictures", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cold-start", type=Path, metavar="DIR",
                        help="a cold start's huggingface/ folder from an earlier run of the same task: "
                        "skips both SFT stages")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a verl override for every run (repeatable), e.g. actor_rollout_ref.rollout.temperature=1.5")
    args = parser.parse_args(argv)
    if args.cold_start and not (args.cold_start / "config.json").is_file():
        parser.error(f"--cold-start: no model at {args.cold_start} (expected a huggingface/ folder with config.json)")
    names = [n.strip() for n in args.runs.split(",") if n.strip()]
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        parser.error(f"--runs: unknown {unknown}; known: {list(RUNS)}")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHON": sys.executable, "WETHINK_CACHE": os.environ.get("WETHINK_CACHE") or str(out / "cache")}
    env.pop("RAY_ADDRESS", None)

    started = time.monotonic()
    data = prepare(out, args)
    print(f"[learning] task and data in {out / 'data'}", file=sys.stderr)
    model = args.cold_start.resolve() if args.cold_start else cold_start(out, data, env)
    print(f"[learning] cold start: {model} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    results: dict[str, Result] = {}
    with KeywordJudge() as judge_url:
        for name in names:
            results[name] = train(RUNS[name], out, model, data, judge_url, env, args)
            print(f"[learning] {name}: {results[name].seconds:.0f} s", file=sys.stderr)
    plot(list(results.values()), out / "learning.png")
    (out / "results.json").write_text(json.dumps({n: asdict(r) for n, r in results.items()}, indent=1))
    print(table(list(results.values())))
    for name in results:
        print(f"{name}: rule answers at the last validation, per right option: {rule_answers(out / name)}")
    print(f"plot: {out / 'learning.png'}; each run's: {out}/<run>/run.png; total {time.monotonic() - started:.0f} s")
    print(last_line(results))
    return 1 if any(r.returncode for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
