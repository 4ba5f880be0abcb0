"""The cold start (SFT) on verl 0.9.1's SFT trainer: its gate, its torchrun command, its CPU smoke.

`recipes.wethink.launch` starts it for a yaml that builds on verl's `sft_trainer_engine` (`run_sft.sh`):

- the gate (`validate`): the composed config (an unknown key fails naming it), verl's own config dataclasses for
  engine / optim / checkpoint / profiler, the model's tokenizer and processor when `model.path` is a local folder,
  the batch and length settings verl would only trip over later, the export's columns when the file is here;
- a GPU run: `python -m torch.distributed.run ... -m verl.trainer.sft_trainer --config-path --config-name`
  (`torchrun_command`, as verl's SFT examples launch it);
- `--smoke`: the same config run by verl's real SFT trainer (`verl.trainer.sft_trainer.SFTTrainer`: its dataset,
  FSDP2 engine, loss, validation, checkpoint) for 2 steps on this CPU with the CPU backend's tiny Qwen2.5-VL
  (`recipes.cpu`), under `torch.distributed.run` with one process running `cpu_worker`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import traceback
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from recipes.wethink.gate import ConfigRejected

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "examples" / "sample"
SAMPLE_EXPORT = REPO_ROOT / "outputs" / "sample_sft" / "sft.parquet"  # where SFT_FILE unset puts the sample
SMOKE_STEPS = 2
SMOKE_BATCH = 4
# verl's sections that SFTTrainer._build_config turns into dataclasses (model separately: it loads the model's files)
DATACLASS_SECTIONS = ("engine", "optim", "checkpoint", "profiler")
CHECKPOINT_CONTENTS = {"model", "optimizer", "extra", "hf_model"}  # what verl's checkpoint managers act on


def compose_config(config: Path, overrides: list[str]) -> DictConfig:
    """Compose like verl's `@hydra.main` does for `--config-path=DIR --config-name=NAME OVERRIDES`."""
    from recipes.wethink.gate import compose_config as compose

    return compose(str(config.parent), config.stem, overrides)


def sample_export(out: Path, min_pixels: int | None = None, max_pixels: int | None = None) -> Path:
    """The bundled sample exported with `data_prep.sft --format verl` (redone every time: 40 rows, ~1 s)."""
    from data_prep.sft import export_sft

    bounds = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v is not None}
    export_sft(SAMPLE / "wethink_sample.jsonl", SAMPLE / "images", out, fmt="verl", progress=False, overwrite=True,
               **bounds)  # fmt: skip
    return out


# ---------------------------------------------------------------------------------------------------- validation


def _failing_line(exc: BaseException) -> str:
    """A bare `assert` in verl's dataclasses has no message: its source line names the field."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip()
    frames = traceback.extract_tb(exc.__traceback__)
    line = frames[-1].line if frames else ""
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} at `{line}`"


def _check_field_types(section: str, obj) -> None:
    """Hydra's instantiate does not type-check: `optim.lr=abc` would only fail inside the optimizer on the GPUs."""
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name, None)
        if field.type in (float, int, "float", "int") and isinstance(value, str):
            raise ConfigRejected(f"{section}.{field.name}={value!r}: expected a number")


def check_verl_dataclasses(cfg: DictConfig) -> None:
    """What verl's SFTTrainer builds first (`omega_conf_to_dataclass` per section), so its checks run here."""
    from verl.utils.config import omega_conf_to_dataclass

    for section in DATACLASS_SECTIONS:
        try:
            obj = omega_conf_to_dataclass(cfg[section])
        except Exception as exc:  # noqa: BLE001 - whatever verl's dataclass raises means "rejected"
            raise ConfigRejected(f"{section}: verl's {cfg[section].get('_target_')} rejected it: {_failing_line(exc)}")
        _check_field_types(section, obj)
    path = str(cfg.model.path)
    if os.path.isdir(os.path.expanduser(path)):  # a hub id is only fetched by the run itself
        try:
            omega_conf_to_dataclass(cfg.model)
        except Exception as exc:  # noqa: BLE001
            raise ConfigRejected(f"model.path={path}: verl's HFModelConfig cannot load it: {_failing_line(exc)}")


def check_run_settings(cfg: DictConfig) -> None:
    """Settings verl accepts at start-up and only trips over later (or silently bends)."""
    data, trainer = cfg.data, cfg.trainer
    world = int(trainer.nnodes) * int(trainer.n_gpus_per_node)
    dp = world // int(cfg.engine.get("ulysses_sequence_parallel_size", 1) or 1)
    if world < 1 or dp < 1:
        raise ConfigRejected(f"trainer.nnodes x trainer.n_gpus_per_node = {world}: no data-parallel rank")
    if data.train_batch_size < dp or data.train_batch_size % dp:
        raise ConfigRejected(  # verl splits it as train_batch_size // dp and drops the rest
            f"data.train_batch_size ({data.train_batch_size}) must be a multiple of the data-parallel size {dp} "
            f"(trainer.nnodes x trainer.n_gpus_per_node / engine.ulysses_sequence_parallel_size)"
        )
    if data.pad_mode not in ("no_padding", "right"):
        raise ConfigRejected(f"data.pad_mode={data.pad_mode!r}: verl's MultiTurnSFTDataset takes no_padding or right")
    if data.truncation not in ("error", "left", "right"):
        raise ConfigRejected(f"data.truncation={data.truncation!r}: one of error, left, right")
    if data.use_dynamic_bsz and data.max_token_len_per_gpu < data.max_length:
        raise ConfigRejected(
            f"data.max_token_len_per_gpu ({data.max_token_len_per_gpu}) < data.max_length ({data.max_length}): "
            "a sequence of max_length fits no micro-batch"
        )
    unknown = set(cfg.checkpoint.save_contents) - CHECKPOINT_CONTENTS
    if unknown:
        known = sorted(CHECKPOINT_CONTENTS)
        raise ConfigRejected(f"checkpoint.save_contents: {sorted(unknown)} unknown (verl acts on {known})")
    for key in ("save_freq", "test_freq"):
        value = trainer[key]
        if not (isinstance(value, int) or value == "after_each_epoch"):
            raise ConfigRejected(f"trainer.{key}={value!r}: an integer (-1: never) or after_each_epoch")


def files_of(value) -> list[str]:
    """`data.train_files` / `val_files` as a list (verl takes one path or a list)."""
    if value is None:
        return []
    return [str(v) for v in value] if OmegaConf.is_list(value) or isinstance(value, list) else [str(value)]


def _hydra_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "[" + ",".join(items) + "]"


def check_data_columns(cfg: DictConfig, require: bool) -> list[str]:
    """The parquet files must carry the columns the config reads (the `data_prep.sft --format verl` export's).
    Files not on this machine are noted (a cluster path), or refused when `require` (the run is local)."""
    import pyarrow.parquet as pq

    notes = []
    for key in ("train_files", "val_files"):
        for path in files_of(cfg.data[key]):
            if not os.path.isfile(path):
                if require:
                    raise ConfigRejected(f"data.{key}: {path} does not exist (SFT_FILE is the data_prep.sft export)")
                notes.append(f"data.{key}: {path} is not on this machine, its columns are not checked")
                continue
            columns = pq.read_schema(path).names
            for setting in ("messages_key", "image_key"):
                column = cfg.data.get(setting)
                if column not in columns:
                    raise ConfigRejected(
                        f"data.{key}: {path} has no column {column!r} (data.{setting}); its columns: {columns}. Export "
                        "it with: python -m data_prep.sft --jsonl FILE --image-root DIR --out X.parquet --format verl"
                    )
    return notes


def validate(cfg: DictConfig, require_data: bool = False) -> list[str]:
    """Everything checkable without a GPU; returns notes. Raises ConfigRejected."""
    from omegaconf.errors import OmegaConfBaseException

    try:  # every value set, every interpolation resolves
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as exc:
        raise ConfigRejected(f"{type(exc).__name__}: {exc}") from exc
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only a dry-run's config
        check_verl_dataclasses(cfg)
    check_run_settings(cfg)
    return check_data_columns(cfg, require_data)


# ----------------------------------------------------------------------------------------------------- commands


def torchrun_command(cfg: DictConfig, config: Path, overrides: list[str]) -> list[str]:
    """verl's SFT entry under torchrun, one process per GPU; the node layout comes from the composed config."""
    nnodes, nproc = int(cfg.trainer.nnodes), int(cfg.trainer.n_gpus_per_node)
    command = [sys.executable, "-m", "torch.distributed.run", f"--nnodes={nnodes}", f"--nproc_per_node={nproc}"]
    if nnodes == 1:
        command.append("--standalone")
    else:
        missing = [v for v in ("MASTER_ADDR", "NODE_RANK") if not os.environ.get(v)]
        if missing:
            raise ConfigRejected(
                f"trainer.nnodes={nnodes} (NNODES): set {' and '.join(missing)} on every node "
                "(MASTER_ADDR = the rank-0 node's address, NODE_RANK = 0..nnodes-1; MASTER_PORT defaults to 29500)"
            )
        command += [f"--node_rank={os.environ['NODE_RANK']}", f"--master_addr={os.environ['MASTER_ADDR']}",
                    f"--master_port={os.environ.get('MASTER_PORT', '29500')}"]  # fmt: skip
    return command + ["-m", "verl.trainer.sft_trainer", f"--config-path={config.parent}",
                      f"--config-name={config.stem}", *overrides]  # fmt: skip


def smoke_overrides(model: Path, train_files: list[str]) -> list[str]:
    """What a CPU needs and tiny sizes (the costs: CPU time of a whole --smoke run on a 2-core machine)."""
    return [
        "trainer.device=cpu",
        "trainer.nnodes=1",
        "trainer.n_gpus_per_node=1",  # one torchrun process
        f"model.path={model}",
        "++model.override_config.attn_implementation=sdpa",  # verl's default is flash_attention_2 (GPU only)
        "model.use_remove_padding=false",  # true takes verl's flash-attn-only Qwen2-VL path
        "engine.strategy=fsdp2",  # FSDP1 refuses CPU parameters (sync_module_states)
        "engine.use_torch_compile=false",  # compiling: +40% CPU time, for 2 tiny steps
        "++engine.mixed_precision.param_dtype=fp32",  # bf16 compute on CPU: +50% CPU time
        f"data.train_files={_hydra_list(train_files)}",
        f"data.val_files={train_files[0]}",  # the export has no split: validate on its first rows
        f"data.val_max_samples={SMOKE_BATCH}",
        f"data.train_batch_size={SMOKE_BATCH}",
        "data.micro_batch_size_per_gpu=2",
        "data.num_workers=0",
        f"trainer.total_training_steps={SMOKE_STEPS}",
        "trainer.logger=[console]",
        "trainer.resume_mode=disable",  # a fresh run each time; pass trainer.resume_mode=auto to resume
    ]


def cpu_worker(argv: list[str]) -> int:
    """`--cpu-worker CONFIG OVERRIDES`: runs inside torchrun for --smoke. verl's own entry (`sft_trainer.main` ->
    `run_sft`) opens the process group with `initialize_global_process_group`, whose backend string is
    `cpu:gloo,{device}:{backend}`: on CPU `cpu:gloo,cpu:gloo`, which torch refuses. So this opens a plain gloo
    group and runs verl's SFTTrainer itself, unpatched."""
    import torch.distributed as dist

    from verl.trainer.sft_trainer import SFTTrainer

    cfg = compose_config(Path(argv[0]), argv[1:])
    dist.init_process_group(backend="gloo")
    try:
        SFTTrainer(config=cfg).fit()
    finally:
        dist.destroy_process_group()
    return 0


def smoke_command(config: Path, overrides: list[str]) -> list[str]:
    """One torchrun process running `cpu_worker` (this module's `--cpu-worker`)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=1",
            "-m", "recipes.wethink.sft", "--cpu-worker", str(config), *overrides]  # fmt: skip


if __name__ == "__main__" and sys.argv[1:2] == ["--cpu-worker"]:
    sys.exit(cpu_worker(sys.argv[2:]))
