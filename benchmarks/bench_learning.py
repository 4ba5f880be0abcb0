"""Does the recipe learn? A miniature WeThink on this CPU: cold start, then GRPO with the hybrid reward.

    python benchmarks/bench_learning.py [--out outputs/learning] [--runs grpo,dapo,shuffled,lr0] [--steps 40]

The paper's pipeline, with the repo's own commands, on a task a tiny model can learn in minutes
(`examples/learn/make_task.py`: the background colour of a picture, as a multiple choice on the rule route and as a
description graded by a deterministic judge on loopback, `examples/learn/keyword_judge.py`):

1. the task's JSONL -> verl parquet (`python -m data_prep.wethink`, held-out pictures for validation) and the cold
   start's export (`python -m data_prep.sft`);
2. cold start: `recipes/wethink/run_sft.sh --smoke` from the CPU backend's tiny model (it knows only the answer
   format), on rows whose answers are drawn at random: it teaches this task's format, not its answers;
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

STATUS (issue 21, open): the pipeline runs end to end, but GRPO does not yet learn the task within a CPU budget.
Measured on the 2-core machine (hf_cpu rollout, 16 prompts x 5 rollouts per step):
- the cold start works: validation format 0.97, rule and judge accuracy 0.25 (chance) after 30 SFT steps;
- the tiny random model hardly sees the picture: a picture moves its last hidden state by 0.4% at 4 visual tokens,
  2% at 64, 3% at 256; a colour on a white background gives every picture nearly the same features (cosine 0.999),
  hence the coloured backgrounds. A supervised probe on the answer letter alone needs ~40 steps (lr 1e-3, fp32) at
  64 visual tokens; GRPO's noisier signal needs more;
- GRPO at lr 1e-3 / 2e-3: rule accuracy flat at chance over 20-40 steps; at 5e-3 the format collapsed in 2 steps
  (score 0.28 -> 0) and never came back. Adam's first step moves every weight by the full lr (2e-3 is 10% of the
  tiny model's init scale): at 2e-3 validation format fell 1.00 -> 0.03 after step 1 and was back at 1.00 after
  step 2, so warm-up (`actor_rollout_ref.actor.optim.lr_warmup_steps`) is the first thing to try;
- a step takes 9-20 s on a loaded machine (34 s at 256 visual tokens); this command at --steps 2 with two runs:
  cold start 203 s (tiny model built in a fresh cache included), each GRPO run ~180-190 s, 6.6-6.7 GiB peak.
Ways on: a base model that already sees (a perception stage before the cold start, as a real VLM has), a wider
tiny model, fewer trainable parameters (LoRA, verl's `lora_rank`), more prompts per step.
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
SFT_STEPS, SFT_LR = 30, 5e-3
GRPO_LR = 2e-3
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
    sh([py, "-m", "data_prep.sft", "--jsonl", str(task / "cold_start.jsonl"), "--image-root", str(task),
        "--out", str(data / "cold_start.parquet"), "--format", "verl", "--embed-images", "--no-progress",
        "--overwrite", *pixels], out / "prepare_cold_start.log")  # fmt: skip
    train = data / "train" / "train.parquet"
    shuffled = data / "shuffled"
    shuffle_answers(train, shuffled / "train.parquet", args.seed)
    shutil.copy(data / "train" / "val.parquet", shuffled / "val.parquet")  # empty: data.val_files is set per run
    return {"train": data / "train", "val": data / "val" / "train.parquet", "shuffled": shuffled,
            "cold_start": data / "cold_start.parquet", "pixels": size}  # fmt: skip


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


def cold_start(out: Path, data: dict[str, Path], env: dict[str, str]) -> Path:
    """`run_sft.sh --smoke` on the cold start's rows; returns the checkpoint's huggingface/ folder."""
    ckpt = out / "cold_start"
    shutil.rmtree(ckpt, ignore_errors=True)
    sh(["bash", "recipes/wethink/run_sft.sh", "--smoke", f"optim.lr={SFT_LR}", "optim.lr_warmup_steps_ratio=0",
        "optim.lr_scheduler_type=constant", f"trainer.total_training_steps={SFT_STEPS}", "trainer.total_epochs=100",
        f"data.train_batch_size={PROMPTS_PER_STEP}", f"data.micro_batch_size_per_gpu={PROMPTS_PER_STEP}",
        f"trainer.save_freq={SFT_STEPS}", "trainer.test_freq=-1"],
       out / "cold_start.log", {**env, "SFT_FILE": str(data["cold_start"]), "CKPT_DIR": str(ckpt)})  # fmt: skip
    model = ckpt / f"global_step_{SFT_STEPS}" / "huggingface"
    if not (model / "config.json").is_file():
        raise SystemExit(f"the cold start wrote no model at {model} (see {out / 'cold_start.log'})")
    return model


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
        f"data.train_batch_size={PROMPTS_PER_STEP}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={PROMPTS_PER_STEP}",  # one update per step: on-policy
        f"actor_rollout_ref.actor.optim.lr={GRPO_LR}",
        f"data.max_response_length={RESPONSE_TOKENS}",
        f"data.min_pixels={data['pixels']}",  # the task's pictures, not --smoke's tiny bounds
        f"data.max_pixels={data['pixels']}",
        f"trainer.total_training_steps={args.steps}",
        "trainer.total_epochs=1000",  # the steps decide
        f"trainer.test_freq={args.test_freq}",
        "trainer.save_freq=-1",  # nothing to resume: no checkpoint writes in the timed loop
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
    parser.add_argument("--rollout", default="hf_cpu", choices=("hf_cpu", "vllm"))
    parser.add_argument("--train-pictures", type=int, default=192)
    parser.add_argument("--val-pictures", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
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
    model = cold_start(out, data, env)
    print(f"[learning] cold start: {model} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    results: dict[str, Result] = {}
    with KeywordJudge() as judge_url:
        for name in names:
            results[name] = train(RUNS[name], out, model, data, judge_url, env, args)
            print(f"[learning] {name}: {results[name].seconds:.0f} s", file=sys.stderr)
    plot(list(results.values()), out / "learning.png")
    (out / "results.json").write_text(json.dumps({n: asdict(r) for n, r in results.items()}, indent=1))
    print(table(list(results.values())))
    print(f"plot: {out / 'learning.png'}; each run's: {out}/<run>/run.png; total {time.monotonic() - started:.0f} s")
    print(last_line(results))
    return 1 if any(r.returncode for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
