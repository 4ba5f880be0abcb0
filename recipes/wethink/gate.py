"""The gate: the checks every run passes before training, whatever starts it (a launcher's `--dry-run`, a local
run, a cluster submission, `--smoke`, and `recipes.wethink.main` itself once more inside verl's process).

It composes the exact config the run gets through Hydra against verl 0.9.1's real `ppo_trainer` schema (an
unknown or misspelt key fails, naming the key), runs verl's `validate_config` (batch divisibility, micro-batch
settings, ...), refuses the legacy reward keys that 0.9.x silently ignores, imports the dataset class and reward
function the way verl does, and checks the recipe's own settings. No GPU, no data, no model download needed.
Every refusal is one exception, `ConfigRejected`, whose message names the key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import importlib.util
import sys
import types
import typing

from hydra import compose, initialize_config_dir, initialize_config_module
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

# Top-level keys that verl 0.9.x still carries in its schema but no longer reads.
LEGACY_REWARD_SECTIONS = ("custom_reward_function", "reward_model")


class ConfigRejected(RuntimeError):
    """A config that cannot work (verl would reject or silently misread it); the message names the key."""


def _rejected(exc: BaseException) -> ConfigRejected:
    """Hydra's, OmegaConf's and verl's own refusals (its asserts and ValueErrors), as the gate's one exception."""
    return ConfigRejected(f"{type(exc).__name__}: {exc}")


def compose_config(config_path: str, config_name: str, overrides: list[str]) -> DictConfig:
    """Compose like `@hydra.main` does for `--config-path/--config-name`, `pkg://` or a directory."""
    if config_path.startswith("pkg://"):
        init = initialize_config_module(config_module=config_path.removeprefix("pkg://"), version_base=None)
    else:
        init = initialize_config_dir(config_dir=config_path, version_base=None)
    try:
        with init:
            return compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        raise _rejected(exc) from exc


def _set_leaves(node: object, prefix: str) -> list[str]:
    if isinstance(node, dict):
        return [key for k, v in node.items() for key in _set_leaves(v, f"{prefix}.{k}")]
    return [prefix] if node not in (None, {}, []) else []


def check_no_legacy_reward_keys(cfg: DictConfig) -> None:
    """0.9.x ignores top-level `custom_reward_function.*` / `reward_model.*`: a value there is a silent bug."""
    used = []
    for section in LEGACY_REWARD_SECTIONS:
        if section in cfg:
            used += _set_leaves(OmegaConf.to_container(cfg[section], resolve=False), section)
    if used:
        raise ConfigRejected(
            f"legacy reward keys set (verl 0.9.x silently ignores them): {', '.join(used)}; "
            "use reward.custom_reward_function.* / reward.reward_model.* instead"
        )


def check_batch_geometry(cfg: DictConfig) -> None:
    """verl checks the mini-batch only without dynamic batch sizes; the recipe uses them, so check it here."""
    prompts, mini = cfg.data.train_batch_size, cfg.actor_rollout_ref.actor.ppo_mini_batch_size
    if mini > prompts or prompts % mini:
        raise ConfigRejected(
            f"actor_rollout_ref.actor.ppo_mini_batch_size ({mini}) must divide data.train_batch_size ({prompts})"
        )


def check_hosted_judge_has_its_pool(cfg: DictConfig) -> None:
    """verl 0.9.1's v1 trainer scores a verl-hosted judge without its own pool through `_compute_reward_colocate`,
    which passes the reward manager no `data_source`/`reward_model`/`extra_info`: the first reward crashes."""
    judge = cfg.reward.reward_model
    if judge.enable and cfg.trainer.get("use_v1", True) and not judge.enable_resource_pool:
        raise ConfigRejected(
            "reward.reward_model.enable=true without reward.reward_model.enable_resource_pool=true crashes verl "
            "0.9.1's v1 trainer on its first reward (KeyError: 'data_source'); give the judge its own pool: "
            "reward.reward_model.enable_resource_pool=true reward.reward_model.n_gpus_per_node=N "
            "reward.reward_model.nnodes=M reward.reward_model.rollout.free_cache_engine=false"
        )


def overlong_buffer(cfg: DictConfig) -> DictConfig | dict:
    """verl's dapo reward manager settings (`reward.reward_kwargs.overlong_buffer_cfg`), {} when absent."""
    return (cfg.reward.get("reward_kwargs") or {}).get("overlong_buffer_cfg") or {}


def check_overlong_buffer(cfg: DictConfig) -> None:
    """verl's dapo reward manager asserts this in every reward worker at start-up; say it before, with the keys."""
    overlong = overlong_buffer(cfg)
    if not overlong.get("enable"):
        return
    limit, buffer = cfg.reward.reward_kwargs.get("max_resp_len"), overlong.get("len")
    if limit is None or buffer is None or not 0 < buffer <= limit:
        raise ConfigRejected(
            f"reward.reward_kwargs.overlong_buffer_cfg.len ({buffer}) must be > 0 and <= "
            f"reward.reward_kwargs.max_resp_len ({limit})"
        )


def check_extensions_load(cfg: DictConfig) -> None:
    """Import the dataset class and reward function through verl's own loaders, as every Ray worker will."""
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.utils.dataset.rl_dataset import get_dataset_class

    try:
        get_dataset_class(cfg.data)
    except (ImportError, AttributeError, FileNotFoundError) as exc:
        raise ConfigRejected(f"data.custom_cls {dict(cfg.data.custom_cls)} does not load: {exc}") from None
    try:
        loaded = get_custom_reward_fn(cfg)
    except (ImportError, AttributeError, FileNotFoundError, RuntimeError) as exc:
        raise ConfigRejected(f"reward.custom_reward_function does not load: {exc}") from None
    if cfg.reward.custom_reward_function.get("path") and loaded is None:
        raise ConfigRejected("reward.custom_reward_function.path is set but verl loaded no function")


# Where a `+key` may add what the schema does not hold: dicts verl passes on as they are (to HF, the rollout engine,
# ray.init, torch's mixed precision) and the reward's kwargs (checked key by key by rewards.config).
FREE_FORM_PARENTS = (
    "actor_rollout_ref.model.override_config",
    "actor_rollout_ref.rollout.engine_kwargs",
    "ray_kwargs.ray_init",
    "reward.custom_reward_function.reward_kwargs",
    "reward.reward_kwargs",
    "fsdp_config.mixed_precision",
)
# Keys verl reads with `.get()` although its schema does not hold them (the rate-limited reward manager's).
READ_BUT_NOT_IN_SCHEMA = ("reward.max_concurrent", "reward.max_rpm", "reward.max_tpm", "reward.timeout")


def _target_class(node: object) -> type | None:
    """The config dataclass a section names with `_target_` (verl's schema for it), None if none."""
    from hydra._internal.utils import _locate

    target = node.get("_target_") if OmegaConf.is_dict(node) and "_target_" in node else None
    if not isinstance(target, str):
        return None
    try:
        cls = _locate(target)
    except ImportError:
        return None
    return cls if dataclasses.is_dataclass(cls) else None


@dataclasses.dataclass
class _NoFields:
    """A section without a config dataclass declares nothing beyond its yaml."""


def declared_by_dataclass(cfg: DictConfig, key: str) -> bool:
    """verl's config dataclasses declare fields their yaml does not list (`actor_rollout_ref.rollout.
    enable_sleep_mode`): verl reads them, so a `+key` that adds one is legitimate."""
    parent, _, name = key.rpartition(".")
    cls = _target_class(OmegaConf.select(cfg, parent) if parent else cfg)
    return cls is not None and name in {f.name for f in dataclasses.fields(cls)}


def check_added_keys(cfg: DictConfig, overrides: list[str]) -> None:
    """A `+key=value` that verl's schema does not hold is silently added and never read (Hydra's own hint for a
    typo: `+trainer.total_epoch=1`). Refuse it unless verl's config dataclass for that section declares it, or it
    goes where a free-form dict is read as a whole."""
    for override in overrides:
        if not override.startswith("+") or override.startswith("++"):
            continue
        key = override[1:].split("=", 1)[0]
        if key in READ_BUT_NOT_IN_SCHEMA or declared_by_dataclass(cfg, key):
            continue
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        if any(parent == p or parent.endswith("." + p) or parent.startswith(p + ".") or parent.endswith(p)
               for p in FREE_FORM_PARENTS):
            continue
        siblings = OmegaConf.select(cfg, parent) if parent else cfg
        known = [k for k in siblings if f"{parent}.{k}".lstrip(".") != key] if OmegaConf.is_dict(siblings) else []
        known += [f.name for f in dataclasses.fields(_target_class(siblings) or _NoFields)]
        close = difflib.get_close_matches(key.rsplit(".", 1)[-1], known, n=1)
        hint = f" (did you mean {parent + '.' if parent else ''}{close[0]}?)" if close else ""
        raise ConfigRejected(
            f"+{key}: verl's schema has no such key, so it would be added and never read{hint}; drop the '+' to "
            "override an existing key"
        )


def _fits(value: object, annotation: object) -> bool | None:
    """Whether a value fits a field's annotation; None when the annotation is not a plain scalar type."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)  # Optional[X], X | None, X | Y
    options = tuple(o for o in (typing.get_args(annotation) if union else (annotation,)) if o is not type(None))
    if not options or not all(o in (int, float, bool, str) for o in options):
        return None
    for kind in options:
        if kind is bool and isinstance(value, bool):
            return True
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if kind is str and isinstance(value, str):
            return True
    return False


def check_value_types(cfg: DictConfig) -> None:
    """Every scalar against the type verl's own config dataclass declares for it (each section naming one with
    `_target_`): `lr=abc` or `rollout.n=five` compose fine and fail only on the GPU."""
    def walk(node: DictConfig, path: str) -> None:
        cls = _target_class(node)
        hints = typing.get_type_hints(cls) if cls is not None else {}
        for key in node:
            if OmegaConf.is_missing(node, key):
                continue
            child = node._get_node(key)
            if OmegaConf.is_dict(child):
                walk(node[key], f"{path}.{key}".lstrip("."))
                continue
            if key not in hints or OmegaConf.is_list(child):
                continue
            value = node[key]  # resolved
            if value is not None and _fits(value, hints[key]) is False:
                raise ConfigRejected(
                    f"{path}.{key}={value!r}: verl's {cls.__name__} declares {hints[key]}".replace("typing.", "")
                )

    walk(cfg, "")


def _walk_keys(node: object, path: str = ""):
    if OmegaConf.is_dict(node):
        for key in node:
            if not OmegaConf.is_missing(node, key):
                yield from _walk_keys(node[key], f"{path}.{key}".lstrip("."))
    else:
        yield path, node


def check_value_ranges(cfg: DictConfig) -> None:
    """What verl has no check for before the GPUs are taken: the estimator's name, memory fractions, counts."""
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY

    estimator = cfg.algorithm.adv_estimator
    if str(estimator) not in ADV_ESTIMATOR_REGISTRY:
        close = difflib.get_close_matches(str(estimator), list(ADV_ESTIMATOR_REGISTRY), n=1)
        raise ConfigRejected(
            f"algorithm.adv_estimator={estimator!r} is not one of verl's estimators"
            f"{f' (did you mean {close[0]}?)' if close else ''}: {', '.join(sorted(ADV_ESTIMATOR_REGISTRY))}"
        )
    for key, value in _walk_keys(cfg):
        if key.endswith("gpu_memory_utilization") and isinstance(value, (int, float)) and not 0 < value <= 1:
            raise ConfigRejected(f"{key}={value!r}: a fraction of GPU memory, in (0, 1]")
    positive = ("data.train_batch_size", "data.max_prompt_length", "data.max_response_length",
                "actor_rollout_ref.actor.ppo_mini_batch_size", "actor_rollout_ref.rollout.n", "trainer.nnodes",
                "trainer.n_gpus_per_node", "trainer.total_epochs", "reward.num_workers")  # fmt: skip
    for key in positive:
        value = OmegaConf.select(cfg, key)
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise ConfigRejected(f"{key}={value!r}: expected a whole number >= 1")
    lr = OmegaConf.select(cfg, "actor_rollout_ref.actor.optim.lr")
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or lr < 0:
        raise ConfigRejected(f"actor_rollout_ref.actor.optim.lr={lr!r}: expected a number >= 0")


def check_recipe_settings(cfg: DictConfig) -> None:
    """Settings verl does not read, so nothing of verl's checks them: the dataset's route filter and the
    hybrid reward's kwargs (the reward never raises during training: a bad kwarg would score every sample 0)."""
    from recipes.wethink.dataset import WeThinkDataset, kept_reward_methods
    from verl.utils.dataset.rl_dataset import get_dataset_class

    try:
        if issubclass(get_dataset_class(cfg.data), WeThinkDataset):
            kept_reward_methods(cfg.data)
    except ValueError as exc:
        raise ConfigRejected(str(exc)) from None
    if cfg.reward.custom_reward_function.get("path") != "pkg://rewards.hybrid":
        return
    from rewards.config import RewardConfigError, check_reward_kwargs

    kwargs = OmegaConf.to_container(cfg.reward.custom_reward_function.get("reward_kwargs") or {}, resolve=True)
    try:
        check_reward_kwargs(kwargs)
    except RewardConfigError as exc:
        raise ConfigRejected(f"reward.custom_reward_function.reward_kwargs: {exc}") from None


# verl 0.9.1 runs flash-attn's own kernels in the actor and reference model on CUDA with these settings: the
# attention implementation defaults to flash_attention_2 (verl/workers/config/model.py), and use_remove_padding
# swaps Qwen2-VL's attention for verl's flash_attn_varlen_func path (models/transformers/monkey_patch.py,
# qwen2_vl.py: without the package its first forward raises NameError `_flash_use_top_left_mask`).
FLASH_ATTN_INSTALL = "pip install flash-attn==2.8.3 --no-build-isolation"
WITHOUT_FLASH_ATTN = (
    "+actor_rollout_ref.model.override_config.attn_implementation=sdpa actor_rollout_ref.model.use_remove_padding=false"
)


def flash_attn_settings(cfg: DictConfig) -> list[str]:
    """This config's settings that need the flash-attn package in a CUDA run; empty when it runs without."""
    if cfg.trainer.get("device", "cuda") != "cuda":
        return []
    model = cfg.actor_rollout_ref.model
    attn = (model.get("override_config") or {}).get("attn_implementation", "flash_attention_2")
    settings = []
    if attn == "flash_attention_2":
        settings.append(f"actor_rollout_ref.model.override_config.attn_implementation={attn}")
    if model.get("use_remove_padding"):
        settings.append("actor_rollout_ref.model.use_remove_padding=true")
    return settings


def check_flash_attn(cfg: DictConfig, installed: bool, cuda: bool) -> str | None:
    """Refuse on a CUDA machine (where the run starts) without flash-attn; elsewhere return a note for the GPU
    nodes, so that a `--dry-run` on a laptop still composes."""
    settings = flash_attn_settings(cfg)
    if installed or not settings:
        return None
    message = (
        f"{' and '.join(settings)} need the flash-attn package, not installed here: on every GPU node "
        f"`{FLASH_ATTN_INSTALL}` (README, Install), or run without it (slower, more memory): {WITHOUT_FLASH_ATTN}"
    )
    if cuda:
        raise ConfigRejected(message)
    return message


def validate(cfg: DictConfig) -> None:
    """Everything verl's trainer checks at start-up that needs no GPU, plus the recipe's own checks; raises
    ConfigRejected."""
    try:
        _validate(cfg)
    except (HydraException, OmegaConfBaseException, AssertionError, ValueError) as exc:
        raise _rejected(exc) from exc


def _validate(cfg: DictConfig) -> None:
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils import device
    from verl.utils.config import validate_config

    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)  # every interpolation must resolve
    check_value_ranges(cfg)  # first: it names the key a user set (rollout.n), not one interpolated from it
    check_value_types(cfg)
    check_no_legacy_reward_keys(cfg)
    check_batch_geometry(cfg)
    check_hosted_judge_has_its_pool(cfg)
    check_overlong_buffer(cfg)
    validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    check_extensions_load(cfg)
    check_recipe_settings(cfg)
    note = check_flash_attn(cfg, importlib.util.find_spec("flash_attn") is not None, device.is_cuda_available)
    if note:
        print(f"note: {note}", file=sys.stderr)


def split_config_args(argv: list[str]) -> tuple[str, str, list[str]]:
    """(config path, config name, overrides) of verl's entry arguments `--config-path=.. --config-name=.. ...`."""
    named = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in argv if a.startswith("--config-") and "=" in a}
    if not {"--config-path", "--config-name"} <= set(named):
        raise ConfigRejected(f"expected --config-path=DIR --config-name=NAME [overrides...], got {argv}")
    return named["--config-path"], named["--config-name"], [a for a in argv if not a.startswith("--config-")]


def compose_and_validate(argv: list[str]) -> DictConfig:
    """The config verl's entry arguments give (`--config-path=.. --config-name=.. overrides`), through the gate;
    raises ConfigRejected."""
    config_path, config_name, overrides = split_config_args(argv)
    cfg = compose_config(config_path, config_name, overrides)
    check_added_keys(cfg, overrides)
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the config, so it can be parsed
        validate(cfg)
    return cfg
