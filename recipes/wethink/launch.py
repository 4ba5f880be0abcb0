"""The one way to start a WeThink run. Every launcher (`run_grpo.sh`, `recipes/wethink/run_*.sh`) sets its yaml
and hands over its arguments:

    python -m recipes.wethink.launch CONFIG.yaml [overrides the launcher fixes...] -- [the user's arguments...]

The user's arguments are Hydra overrides plus at most one mode flag, in any position:

- none: the run. GRPO: verl's trainer through the recipe's entry (`recipes.wethink.main`) on this machine's GPUs,
  or `ray job submit` to the cluster at RAY_ADDRESS (`recipes.wethink.runtime_env`); SFT: verl's SFT trainer
  under torchrun (`recipes.wethink.sft`). Without an NVIDIA GPU (and, GRPO, without RAY_ADDRESS) it stops at once.
- `--dry-run`: the config the run would get, through the gate (`recipes.wethink.gate`; SFT: `sft.validate`),
  printed on stdout with how the run would start on stderr. No GPU, no data read.
- `--smoke`: verl's real trainer end to end on this CPU with the CPU backend's tiny model (`recipes.cpu`;
  GRPO: `recipes.wethink.smoke`, SFT: `sft.smoke_command`).

The trainer is the yaml's: one built on verl's `sft_trainer_engine` is an SFT run, any other a GRPO run.
Which layer wins: the user's arguments > an environment variable of `KNOBS` (an override only when it is set) >
the launcher's fixed overrides > the yaml (and the yamls it includes) > verl's own default.
With no DATA_DIR (GRPO) or SFT_FILE (SFT) the bundled sample in examples/ is prepared and used.
Exit status: 2 for a config the gate refuses or arguments that cannot go together; 1 for an input that is not
there, or no GPU for a real run (GRPO and SFT alike); otherwise the run's own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MODES = ("--dry-run", "--smoke")

# One environment variable per knob, the same in every launcher, README and the reward's docs. `++` where the yaml
# leaves the key to its code default (rewards/config.py), so it may be absent from the composed config.
KNOBS = {
    "grpo": {
        "MODEL_PATH": "actor_rollout_ref.model.path",
        "ROLLOUT_TP": "actor_rollout_ref.rollout.tensor_model_parallel_size",
        "NNODES": "trainer.nnodes",
        "GPUS_PER_NODE": "trainer.n_gpus_per_node",
        "PROJECT_NAME": "trainer.project_name",
        "EXPERIMENT_NAME": "trainer.experiment_name",
        "CKPT_DIR": "trainer.default_local_dir",
        "SAVE_FREQ": "trainer.save_freq",
        "TEST_FREQ": "trainer.test_freq",
        "TOTAL_EPOCHS": "trainer.total_epochs",
        "LOGGER": "trainer.logger",
        "JUDGE_URL": "reward.custom_reward_function.reward_kwargs.judge_url",
        "JUDGE_MODEL": "reward.custom_reward_function.reward_kwargs.judge_model",
        "JUDGE_API_KEY_ENV": "reward.custom_reward_function.reward_kwargs.judge_api_key_env",
        "JUDGE_TIMEOUT": "++reward.custom_reward_function.reward_kwargs.judge_timeout",
        "JUDGE_RETRIES": "++reward.custom_reward_function.reward_kwargs.judge_retries",
        "JUDGE_MAX_CONCURRENCY": "++reward.custom_reward_function.reward_kwargs.judge_max_concurrency",
        "JUDGE_CACHE": "++reward.custom_reward_function.reward_kwargs.judge_cache",
        "JUDGE_MODEL_PATH": "reward.reward_model.model_path",
        "JUDGE_TP": "reward.reward_model.rollout.tensor_model_parallel_size",
    },
    "sft": {  # multi-node SFT: MASTER_ADDR, NODE_RANK, MASTER_PORT go to torchrun (sft.torchrun_command)
        "SFT_FILE": "data.train_files",
        "MODEL_PATH": "model.path",
        "NNODES": "trainer.nnodes",
        "GPUS_PER_NODE": "trainer.n_gpus_per_node",
        "CKPT_DIR": "trainer.default_local_dir",
        "EXPERIMENT_NAME": "trainer.experiment_name",
    },
}
SAMPLE = REPO_ROOT / "examples" / "sample"
SAMPLE_VAL_SIZE = 8


class Refused(Exception):
    """The launch cannot go on; `code` is the exit status."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def split_args(argv: list[str]) -> tuple[Path, list[str], list[str], str | None]:
    """(config, the launcher's overrides, the user's overrides, mode) of `CONFIG [launcher...] -- [user...]`."""
    if not argv:
        raise Refused("usage: python -m recipes.wethink.launch CONFIG.yaml [overrides...] -- [user args...]", 2)
    config, rest = Path(argv[0]), argv[1:]
    cut = rest.index("--") if "--" in rest else -1
    launcher, user = rest[: max(cut, 0)], rest[cut + 1 :]
    modes = {a for a in user if a in MODES}
    if len(modes) > 1:
        raise Refused("--dry-run and --smoke: pick one", 2)
    if not config.is_file():
        raise Refused(f"CONFIG={config}: no such file (a forked launcher points CONFIG at its own yaml)", 2)
    return config.resolve(), launcher, [a for a in user if a not in MODES], modes.pop() if modes else None


def trainer_of(config: Path) -> str:
    """"sft" for a yaml built on verl's `sft_trainer_engine` (directly or through a yaml beside it), else "grpo"."""
    import yaml

    for default in (yaml.safe_load(config.read_text()) or {}).get("defaults") or []:
        if isinstance(default, str) and default.startswith("sft_trainer"):
            return "sft"
        if isinstance(default, str) and (config.parent / f"{default}.yaml").is_file() and default != config.stem:
            if trainer_of(config.parent / f"{default}.yaml") == "sft":
                return "sft"
    return "grpo"


def knob_overrides(trainer: str, env: dict[str, str]) -> list[str]:
    """An override for each knob whose environment variable is set (non-empty)."""
    return [f"{key}={env[var]}" for var, key in KNOBS[trainer].items() if env.get(var)]


def has_nvidia_gpu() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False).stdout
    return "GPU" in listing


def no_gpu(trainer: str, cluster_hint: str = "") -> Refused:
    """A real run on a machine without an NVIDIA GPU: exit status 1, like any other missing input."""
    return Refused(
        f"no NVIDIA GPU found on this machine: verl's {trainer} trainer runs on GPUs only. To check the configuration "
        "without one, run this launcher with --dry-run [overrides...] (or --smoke to run it end to end on this CPU "
        f"with a tiny model){cluster_hint}.",
        1,
    )


def print_config(cfg, notes: list[str]) -> None:
    from omegaconf import OmegaConf

    print(OmegaConf.to_yaml(cfg))
    for note in notes:
        print(f"dry-run: {note}", file=sys.stderr)


# ------------------------------------------------------------------------------------------------------------ GRPO


def absolute(path: str) -> str:
    return os.path.realpath(os.path.expanduser(path))


def looks_local(path: str) -> bool:
    """A model path on disk, not a hub name (Qwen/Qwen2.5-VL-7B-Instruct)."""
    return path.startswith(("/", ".", "~"))


def make_paths_absolute(env: dict[str, str], smoke: bool, run_name: str) -> None:
    """A cluster run (RAY_ADDRESS): every worker's current directory is Ray's per-job copy on its own node, so
    relative paths would scatter checkpoints and logs across nodes and vanish with the job."""
    env["CKPT_DIR"] = absolute(env.get("CKPT_DIR") or "checkpoints/${trainer.project_name}/${trainer.experiment_name}")
    if smoke:
        env["TENSORBOARD_DIR"] = env.get("TENSORBOARD_DIR") or f"tensorboard_log/smoke/{run_name}"
    if env.get("TENSORBOARD_DIR"):  # unset: verl's default, made absolute by runtime_env.job_runtime_env
        env["TENSORBOARD_DIR"] = os.environ["TENSORBOARD_DIR"] = absolute(env["TENSORBOARD_DIR"])
    for var in ("JUDGE_CACHE", "DATA_DIR"):
        if env.get(var):
            env[var] = absolute(env[var])
    model = env.get("MODEL_PATH")
    if model and (os.path.exists(model) or looks_local(model)):
        env["MODEL_PATH"] = absolute(model)


def check_inputs(env: dict[str, str], smoke: bool, cluster: bool) -> None:
    """Inputs that must be there, in every mode (--dry-run included): a prepared DATA_DIR, a local MODEL_PATH (a
    local --smoke trains its tiny model instead)."""
    where = " (with RAY_ADDRESS it must be a path every node reads)" if cluster else ""
    data = env.get("DATA_DIR")
    if data and not (os.path.isfile(f"{data}/train.parquet") and os.path.isfile(f"{data}/val.parquet")):
        raise Refused(f"DATA_DIR={data} has no train.parquet + val.parquet{where}: prepare it with python -m "
                      "data_prep.wethink, or leave DATA_DIR unset for the bundled sample")  # fmt: skip
    model = env.get("MODEL_PATH")
    if (not smoke or cluster) and model and looks_local(model) and not os.path.isdir(os.path.expanduser(model)):
        raise Refused(f"MODEL_PATH={model}: no such directory{where} (a local model; a hub name looks like "
                      "Qwen/Qwen2.5-VL-7B-Instruct)")  # fmt: skip


def data_overrides(env: dict[str, str], mode: str | None) -> list[str]:
    """A prepared DATA_DIR, or with none the bundled sample prepared on the fly (images embedded, so no shared
    filesystem needed) with a batch that fits its few dozen rows (512 prompts per step is the paper value)."""
    data, overrides = env.get("DATA_DIR"), []
    if not data:
        data = env.get("SAMPLE_DATA_DIR") or str(REPO_ROOT / "outputs" / "sample_data")
        overrides += [f"data.train_batch_size={env.get('SAMPLE_BATCH_SIZE') or 16}",
                      f"actor_rollout_ref.actor.ppo_mini_batch_size={env.get('SAMPLE_MINI_BATCH_SIZE') or 8}"]  # fmt: skip
        if mode != "--dry-run" and not os.path.isfile(f"{data}/train.parquet"):
            print(f"DATA_DIR unset: preparing the bundled sample into {data}", file=sys.stderr)
            prepared = subprocess.run([sys.executable, "-m", "data_prep.wethink", "--jsonl",
                                       str(SAMPLE / "wethink_sample.jsonl"), "--image-root", str(SAMPLE / "images"),
                                       "--out", data, "--embed-images", "--val-size", str(SAMPLE_VAL_SIZE),
                                       "--overwrite"])  # fmt: skip  (--overwrite: a half-prepared one is redone)
            if prepared.returncode:
                raise Refused(f"preparing the bundled sample into {data} failed", prepared.returncode)
    return overrides + [f"data.train_files={data}/train.parquet", f"data.val_files={data}/val.parquet"]


def launch_grpo(config: Path, launcher: list[str], user: list[str], mode: str | None) -> int:
    from recipes.wethink import gate

    env = dict(os.environ)
    cluster = env.get("RAY_ADDRESS")
    if mode is None and not cluster and not has_nvidia_gpu():  # before anything slow
        raise no_gpu("GRPO", "; to use a cluster, set RAY_ADDRESS")
    smoke = mode == "--smoke"
    run_name = env.get("EXPERIMENT_NAME") or config.stem  # names the directories the launcher itself must choose
    if smoke:  # never next to a real run's checkpoints (resume_mode=auto would pick up the tiny model)
        env["CKPT_DIR"] = absolute(env.get("CKPT_DIR") or f"checkpoints/smoke/{run_name}")
    if cluster:
        make_paths_absolute(env, smoke, run_name)
    check_inputs(env, smoke, bool(cluster))
    if cluster:
        shown = [f"{v}={env[v]}" for v in ("CKPT_DIR", "TENSORBOARD_DIR", "DATA_DIR") if env.get(v)]
        print(f"cluster run: {' '.join(shown)}", file=sys.stderr)
    overrides = launcher + data_overrides(env, mode) + knob_overrides("grpo", env)
    config_args = [f"--config-path={config.parent}", f"--config-name={config.stem}"]
    if smoke:
        from recipes.wethink import smoke as cpu_smoke

        return cpu_smoke.run(str(config.parent), config.stem, overrides, user, cluster)
    if mode is None and not cluster:
        os.execvp(sys.executable, [sys.executable, "-m", "recipes.wethink.main", *config_args, *overrides, *user])
    cfg = gate.compose_and_validate([*config_args, *overrides, *user])  # the gate, before anything is submitted
    if cluster:
        from recipes.wethink.runtime_env import job_runtime_env, submit

        runtime_env, notes = job_runtime_env(cfg, {})
        for note in notes:
            print(f"runtime env: {note}", file=sys.stderr)
        if mode is None:
            submit(cluster, ["-m", "recipes.wethink.main", *config_args, *overrides, *user], runtime_env)
        print(f"dry-run: with RAY_ADDRESS the run is submitted as: ray job submit --address={cluster} "
              f"--working-dir={REPO_ROOT} -- python3 -m recipes.wethink.main <the arguments of the config below>",
              file=sys.stderr)  # fmt: skip
    print_config(cfg, [f"{config.stem} composed and validated against verl's ppo_trainer schema"])
    return 0


# ------------------------------------------------------------------------------------------------------------- SFT


def launch_sft(config: Path, launcher: list[str], user: list[str], mode: str | None) -> int:
    from recipes.wethink import sft

    if mode is None and not has_nvidia_gpu():  # before anything slow
        raise no_gpu("SFT")
    launcher = launcher + knob_overrides("sft", dict(os.environ))
    probe = sft.compose_config(config, launcher + user)
    prefix = []
    if probe.data.train_files is None:  # SFT_FILE unset (the yaml leaves it null): the bundled sample's export
        prefix.append(f"data.train_files={sft.SAMPLE_EXPORT}")
    if mode == "--smoke":
        return smoke_sft(config, probe, prefix, launcher, user)
    overrides = prefix + launcher + user
    cfg = sft.compose_config(config, overrides)
    notes = sft.validate(cfg, require_data=mode is None and not prefix)
    if prefix:
        notes = [f"SFT_FILE unset: the run exports the bundled sample to {sft.SAMPLE_EXPORT} and trains on it"]
    command = sft.torchrun_command(cfg, config, overrides)
    if mode == "--dry-run":
        print_config(cfg, [*notes, f"{config.stem} composed and validated against verl's sft_trainer_engine; the run "
                                   f"would be:\n  {' '.join(command)}"])  # fmt: skip
        return 0
    if prefix:
        print(f"sft: SFT_FILE unset: exporting the bundled sample to {cfg.data.train_files}", file=sys.stderr)
        sft.sample_export(Path(str(cfg.data.train_files)))
    sys.stdout.flush()
    os.execvp(command[0], command)
    return 1  # not reached


def smoke_sft(config: Path, probe, prefix: list[str], launcher: list[str], user: list[str]) -> int:
    from recipes.cpu.env import CPU_BACKEND_ENV
    from recipes.cpu.tiny_model import TINY_MAX_PIXELS, TINY_MIN_PIXELS, cache_dir, ensure_tiny_model
    from recipes.wethink import sft

    # Never next to a real run's checkpoints (resume_mode=auto would pick up the tiny model); CKPT_DIR still wins.
    ckpt = Path(f"checkpoints/smoke/{probe.trainer.experiment_name}").resolve()
    if prefix:  # the sample, with the tiny processor's pixel bounds (4..64 visual tokens per image)
        tiny_sample = cache_dir() / "sft_sample_tiny" / "sft.parquet"
        train_files = [str(sft.sample_export(tiny_sample, TINY_MIN_PIXELS, TINY_MAX_PIXELS))]
    else:
        train_files = [str(Path(f).resolve()) for f in sft.files_of(probe.data.train_files)]
    model = ensure_tiny_model()
    overrides = [f"trainer.default_local_dir={ckpt}"] + launcher + sft.smoke_overrides(model, train_files) + user
    cfg = sft.compose_config(config, overrides)
    sft.validate(cfg, require_data=True)
    print(
        f"smoke: verl's SFT trainer on CPU with a tiny random Qwen2.5-VL ({model}), {cfg.trainer.total_training_steps} "
        f"steps of {cfg.data.train_batch_size} sequences from {cfg.data.train_files}: checks the wiring, trains "
        f"nothing real; checkpoints: {cfg.trainer.default_local_dir}",
        file=sys.stderr,
    )
    command = sft.smoke_command(config, overrides)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(command[0], command, {**os.environ, **CPU_BACKEND_ENV})
    return 1  # not reached


def main(argv: list[str] | None = None) -> int:
    from recipes.wethink.gate import ConfigRejected

    argv = sys.argv[1:] if argv is None else argv
    mode = None
    try:
        config, launcher, user, mode = split_args(argv)
        start = launch_sft if trainer_of(config) == "sft" else launch_grpo
        return start(config, launcher, user, mode)
    except ConfigRejected as exc:
        print(f"{(mode or 'launch').lstrip('-')}: config rejected: {exc}", file=sys.stderr)
        return 2
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code


if __name__ == "__main__":
    sys.exit(main())
