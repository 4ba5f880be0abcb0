"""The cold-start launcher (recipes/wethink/run_sft.sh): --dry-run against verl 0.9.1's real SFT schema, the
environment knobs, the mode flag anywhere, a forked copy, and --smoke running verl's SFT trainer on CPU.

Launches are `bash run_sft.sh ...` as a user types it, so the shell (knobs, `"$@"` last) is covered too; the tests
of what the one launch entry decides (the knobs, the mode flag's position, refusals) call the launcher's own line in
this process (`tests.repo.launch_in_process`): the same entry and arguments without a new interpreter importing
verl (~10 s each).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.repo import CONFIG_DIR, LAUNCHER_DIR, REPO, SAMPLE, launch_in_process

LAUNCHER = LAUNCHER_DIR / "run_sft.sh"
CONFIG = CONFIG_DIR / "sft_7b.yaml"

# Each knob and the key it sets (README, run_sft.sh); the multi-node variables go to torchrun.
KNOBS = {
    "SFT_FILE": "data.train_files",
    "MODEL_PATH": "model.path",
    "NNODES": "trainer.nnodes",
    "GPUS_PER_NODE": "trainer.n_gpus_per_node",
    "CKPT_DIR": "trainer.default_local_dir",
    "EXPERIMENT_NAME": "trainer.experiment_name",
}
TORCHRUN_VARS = ("MASTER_ADDR", "NODE_RANK", "MASTER_PORT")

# What the yaml claims, checked on the composed config.
CLAIMS = {
    "model.path": "Qwen/Qwen2.5-VL-7B-Instruct",
    "engine.strategy": "fsdp2",
    "optim.lr": 1e-5,
    "optim.lr_scheduler_type": "cosine",
    "optim.lr_warmup_steps_ratio": 0.1,
    "data.messages_key": "messages",
    "data.image_key": "images",
    "data.train_batch_size": 128,
    "data.max_length": 4096,
    "data.truncation": "error",
    "data.pad_mode": "no_padding",
    "checkpoint.save_contents": ["model", "optimizer", "extra", "hf_model"],
    "trainer.project_name": "wethink",
    "trainer.experiment_name": "wethink_7b_sft",
    "trainer.default_local_dir": "checkpoints/wethink/wethink_7b_sft",
    "trainer.logger": ["console", "tensorboard"],
    "trainer.total_epochs": 2,
    "trainer.resume_mode": "auto",
    "trainer.nnodes": 1,
    "trainer.n_gpus_per_node": 8,
}


def launch(*args: str, launcher: Path = LAUNCHER, cwd: Path = REPO, timeout: int = 300, **env: str):
    clean = {k: v for k, v in os.environ.items() if k not in KNOBS and k not in TORCHRUN_VARS}
    environment = {**clean, "PYTHON": sys.executable, **env}
    return subprocess.run(["bash", str(launcher), *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def launch_here(monkeypatch, capsys, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`launch` in this process (`tests.repo.launch_in_process`), with the same environment."""
    unset = dict.fromkeys((*KNOBS, *TORCHRUN_VARS))
    return launch_in_process(monkeypatch, capsys, LAUNCHER, *args, **{**unset, "PYTHON": sys.executable, **env})


def composed(result):
    assert result.returncode == 0, result.stderr[-3000:]
    return OmegaConf.create(result.stdout)


def torchrun_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if "torch.distributed.run" in line]
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """The bundled sample through `data_prep.sft --format verl`, as a user would export it."""
    out = tmp_path_factory.mktemp("sft_export") / "sft.parquet"
    result = subprocess.run(
        [sys.executable, "-m", "data_prep.sft", "--jsonl", str(SAMPLE / "wethink_sample.jsonl"), "--image-root",
         str(SAMPLE / "images"), "--out", str(out), "--format", "verl", "--no-progress"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def dry(export):
    """`--dry-run` first, one override, SFT_FILE set: the reference the other launches are compared with."""
    return launch("--dry-run", "trainer.save_freq=50", SFT_FILE=str(export))


def test_dry_run_composes_the_cold_start_config(dry, export):
    import pyarrow.parquet as pq

    cfg = composed(dry)
    for key, value in CLAIMS.items():
        assert OmegaConf.select(cfg, key) == value, key
    assert cfg.data.train_files == str(export) and cfg.trainer.save_freq == 50
    # The keys the dataset reads are exactly the columns data_prep.sft writes.
    assert {cfg.data.messages_key, cfg.data.image_key} == set(pq.read_schema(export).names) == {"messages", "images"}
    line = torchrun_line(dry)
    assert "--nnodes=1 --nproc_per_node=8 --standalone -m verl.trainer.sft_trainer" in line
    assert f"--config-path={CONFIG.parent} --config-name=sft_7b" in line


def test_verl_own_entry_composes_the_same_config(dry, export):
    """verl's `@hydra.main` (what torchrun runs) composes the launcher's config into the same tree as --dry-run."""
    verl = subprocess.run(
        [sys.executable, "-m", "verl.trainer.sft_trainer", f"--config-path={CONFIG.parent}", "--config-name=sft_7b",
         f"data.train_files={export}", "trainer.save_freq=50", "--cfg", "job"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert verl.returncode == 0, verl.stderr[-2000:]
    assert OmegaConf.to_container(OmegaConf.create(verl.stdout)) == OmegaConf.to_container(composed(dry))


@pytest.mark.parametrize("args", [["trainer.save_freq=50", "--dry-run"], ["--dry-run"]], ids=["last", "alone"])
def test_mode_flag_in_any_position(dry, export, args, monkeypatch, capsys):
    if args == ["--dry-run"]:  # in the middle of two overrides
        args = ["trainer.save_freq=1", "--dry-run", "trainer.save_freq=50"]
    assert composed(launch_here(monkeypatch, capsys, *args, SFT_FILE=str(export))) == composed(dry)


def test_each_knob_sets_its_key_and_multi_node_goes_to_torchrun(tmp_path, monkeypatch, capsys):
    values = {
        "SFT_FILE": str(tmp_path / "elsewhere.parquet"),
        "MODEL_PATH": "Qwen/Qwen2.5-VL-3B-Instruct",
        "NNODES": "2",
        "GPUS_PER_NODE": "4",
        "CKPT_DIR": "/ckpt/sft",
        "EXPERIMENT_NAME": "my_sft",
    }
    result = launch_here(monkeypatch, capsys, "--dry-run", MASTER_ADDR="10.0.0.1", NODE_RANK="1", **values)
    cfg = composed(result)
    for knob, key in KNOBS.items():
        assert str(OmegaConf.select(cfg, key)) == values[knob], knob
    line = torchrun_line(result)
    assert "--nnodes=2 --nproc_per_node=4 --node_rank=1 --master_addr=10.0.0.1 --master_port=29500" in line
    assert "elsewhere.parquet is not on this machine" in result.stderr

    missing = launch_here(monkeypatch, capsys, "--dry-run", NNODES="2")
    assert missing.returncode == 2 and missing.stdout == ""
    assert "MASTER_ADDR and NODE_RANK" in missing.stderr


def test_unset_sft_file_means_the_bundled_sample(monkeypatch, capsys):
    result = launch_here(monkeypatch, capsys, "--dry-run")
    cfg = composed(result)
    assert cfg.data.train_files == str(REPO / "outputs" / "sample_sft" / "sft.parquet")
    assert "SFT_FILE unset" in result.stderr


def test_unknown_key_is_refused_naming_it(monkeypatch, capsys):
    result = launch_here(monkeypatch, capsys, "optim.lrr=1e-5", "--dry-run")
    assert result.returncode == 2 and result.stdout == ""
    assert "config rejected" in result.stderr and "optim.lrr" in result.stderr


def dry_run_in_process(capsys, *overrides: str, sft_file: str = "/data/sft.parquet") -> tuple[int, str, str]:
    """The launcher's Python side called as run_sft.sh calls it (faster than a process per case)."""
    from recipes.wethink.launch import main

    code = main([str(CONFIG), f"data.train_files={sft_file}", "--", "--dry-run", *overrides])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "override, named",
    [
        ("data.messages_keys=messages", "data.messages_keys"),  # not in verl's schema
        ("optim.lr_scheduler_type=linear", "lr_scheduler_type"),  # verl's FSDPOptimizerConfig assertion
        ("engine.strategy=fsdp3", "strategy fsdp3"),  # verl's FSDPEngineConfig assertion
        ("optim.lr=fast", "optim.lr"),
        ("data.train_batch_size=100", "data.train_batch_size"),  # not a multiple of 8 GPUs
        ("data.max_token_len_per_gpu=2048", "data.max_token_len_per_gpu"),  # < max_length 4096
        ("checkpoint.save_contents=[model,hf]", "checkpoint.save_contents"),
    ],
)
def test_bad_setting_is_refused_naming_it(capsys, override, named):
    code, out, err = dry_run_in_process(capsys, override)
    assert code == 2 and out == ""
    assert named in err and "config rejected" in err


def test_the_reference_settings_pass_in_process(capsys):
    """The control for the cases above: the same call without the bad override succeeds."""
    code, out, _ = dry_run_in_process(capsys)
    assert code == 0 and OmegaConf.create(out).optim.lr == 1e-5


def test_export_without_the_dataset_columns_is_refused(capsys, tmp_path):
    """An RL parquet (a `prompt` column) given as SFT_FILE: refused before any GPU, naming the column and key."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rl = tmp_path / "train.parquet"
    pq.write_table(pa.table({"prompt": [[{"role": "user", "content": "hi"}]], "images": [[]]}), rl)
    code, _, err = dry_run_in_process(capsys, sft_file=str(rl))
    assert code == 2
    assert "no column 'messages' (data.messages_key)" in err and "data_prep.sft" in err


def test_dry_run_and_smoke_together_are_refused(monkeypatch, capsys):
    result = launch_here(monkeypatch, capsys, "--smoke", "--dry-run")
    assert result.returncode == 2 and "pick one" in result.stderr


def test_copied_launcher_uses_its_own_yaml_from_another_directory(tmp_path, export):
    fork = tmp_path / "fork"
    (fork / "config").mkdir(parents=True)
    shutil.copy(LAUNCHER, fork / "run_sft.sh")
    yaml = CONFIG.read_text().replace("  lr: 1.0e-5 ", "  lr: 7.0e-6 ")
    assert yaml != CONFIG.read_text()
    (fork / "config" / "sft_7b.yaml").write_text(yaml)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = launch("--dry-run", launcher=fork / "run_sft.sh", cwd=elsewhere, SFT_FILE=str(export))
    assert composed(result).optim.lr == 7e-6
    assert f"--config-path={fork / 'config'} " in torchrun_line(result)


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has a GPU")
def test_real_run_without_gpu_fails_fast_and_names_dry_run_and_smoke(export):
    result = launch(SFT_FILE=str(export), timeout=120)
    assert result.returncode == 1  # as the GRPO launcher (tests/test_launchers.py): a missing GPU is a missing input
    assert "GPU" in result.stderr and "--dry-run" in result.stderr and "--smoke" in result.stderr
    assert "torch.distributed" not in result.stderr  # nothing was started


# ------------------------------------------------------------------------------------------- --smoke (verl on CPU)

STEP_LINE = re.compile(r"^step:(\d+) - (.*)$", re.M)


def logged_metrics(text: str) -> dict[int, dict[str, float]]:
    """verl's console logger: `step:N - key:value - key:value ...` (train and val lines share a step)."""
    steps: dict[int, dict[str, float]] = {}
    for match in STEP_LINE.finditer(text):
        for item in match.group(2).split(" - "):
            key, _, value = item.rpartition(":")
            steps.setdefault(int(match.group(1)), {})[key.strip()] = float(value)
    return steps


def weight_moves(initial: Path, trained: Path) -> dict[str, float]:
    """Per tensor, the largest absolute change between two safetensors files with the same names."""
    from safetensors.torch import load_file

    before, after = load_file(initial), load_file(trained)
    assert set(before) == set(after)
    return {name: (after[name].float() - before[name].float()).abs().max().item() for name in before}


@pytest.fixture(scope="module")
def tiny_cache(shared) -> Path:
    """The session's one tiny model (tests/conftest.py), shared with the GRPO end-to-end runs."""
    from recipes.cpu.tiny_model import TINY_MODEL_VERSION

    return shared["cache"] / TINY_MODEL_VERSION


def smoke(tmp_path: Path, tiny_cache: Path, *overrides: str):
    ckpt = tmp_path / "ckpt"
    tmp_path.mkdir()
    result = launch("--smoke", *overrides, cwd=tmp_path, timeout=240, WETHINK_CACHE=str(tiny_cache.parent),
                    CKPT_DIR=str(ckpt))  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout + result.stderr, ckpt


@pytest.mark.e2e
def test_smoke_runs_verl_sft_trainer_on_cpu_and_trains_every_weight(tmp_path, tiny_cache):
    log, ckpt = smoke(tmp_path / "run", tiny_cache)
    assert "smoke: verl's SFT trainer on CPU with a tiny random Qwen2.5-VL" in log
    # verl's MultiTurnSFTDataset read the data_prep.sft export of the bundled sample (40 rows) from the cache
    assert "dataset len: 40" in log and (tiny_cache.parent / "sft_sample_tiny" / "sft.parquet").is_file()
    steps = logged_metrics(log)
    assert sorted(steps) == [1, 2]
    for step in (1, 2):
        loss = steps[step]["train/loss"]
        assert math.isfinite(loss) and 1.0 < loss < 20.0  # cross-entropy of a random model over ~600 tokens: ~6.4
        assert steps[step]["train/grad_norm"] > 0
        assert steps[step]["train/global_tokens"] > 4 * 16  # 4 sequences per step, images + text
    assert math.isfinite(steps[2]["val/loss"])
    # The last step's checkpoint, verl's layout, and a Hugging Face folder the GRPO stage can take as MODEL_PATH.
    assert (ckpt / "latest_checkpointed_iteration.txt").read_text().strip() == "2"
    step2 = ckpt / "global_step_2"
    assert (step2 / "model_world_size_1_rank_0.pt").is_file() and (step2 / "optim_world_size_1_rank_0.pt").is_file()
    moves = weight_moves(tiny_cache / "model.safetensors", step2 / "huggingface" / "model.safetensors")
    # AdamW moves every weight with a gradient by about lr per step (1e-5, then 5e-6 on the cosine schedule); weight
    # decay alone moves it by lr x 0.01 x |w| < 1e-8. The vision tower moving proves the images reached the model.
    assert min(moves.values()) > 5e-6, sorted(moves.items(), key=lambda kv: kv[1])[:3]
    assert any(name.startswith("visual.") for name in moves)


@pytest.mark.e2e
def test_smoke_negative_control_zero_lr_logs_gradients_but_moves_nothing(tmp_path, tiny_cache):
    """The same run with optim.lr=0: gradients are still computed and logged, and the weight check above fails."""
    log, ckpt = smoke(tmp_path / "control", tiny_cache, "optim.lr=0")
    steps = logged_metrics(log)
    assert sorted(steps) == [1, 2] and steps[1]["train/grad_norm"] > 0 and steps[1]["train/lr"] == 0
    moves = weight_moves(tiny_cache / "model.safetensors", ckpt / "global_step_2" / "huggingface" / "model.safetensors")
    assert max(moves.values()) == 0.0
