"""`--dry-run` for every launcher: compose the exact config the real run gets, check it with verl's own code.

The launchers call `python3 -m recipes.wethink.main --config-path=... --config-name=... OVERRIDES`; with
`--dry-run` they call this module with the same arguments instead. It composes through Hydra against verl
0.9.1's real `ppo_trainer` schema (an unknown or misspelt key fails, naming the key), runs verl's
`validate_config` (batch divisibility, micro-batch settings, ...), refuses the legacy reward keys that 0.9.x
silently ignores, imports the dataset class and reward function the way verl does, and prints the config.
No GPU, no data, no model download needed.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from hydra import compose, initialize_config_dir, initialize_config_module
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

# Top-level keys that verl 0.9.x still carries in its schema but no longer reads.
LEGACY_REWARD_SECTIONS = ("custom_reward_function", "reward_model")


class ConfigCheckError(RuntimeError):
    """A composed config that verl would reject or silently misread."""


def compose_config(config_path: str, config_name: str, overrides: list[str]) -> DictConfig:
    """Compose like `@hydra.main` does for `--config-path/--config-name`, `pkg://` or a directory."""
    if config_path.startswith("pkg://"):
        init = initialize_config_module(config_module=config_path.removeprefix("pkg://"), version_base=None)
    else:
        init = initialize_config_dir(config_dir=config_path, version_base=None)
    with init:
        return compose(config_name=config_name, overrides=overrides)


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
        raise ConfigCheckError(
            f"legacy reward keys set (verl 0.9.x silently ignores them): {', '.join(used)}; "
            "use reward.custom_reward_function.* / reward.reward_model.* instead"
        )


def check_batch_geometry(cfg: DictConfig) -> None:
    """verl checks the mini-batch only without dynamic batch sizes; the recipe uses them, so check it here."""
    prompts, mini = cfg.data.train_batch_size, cfg.actor_rollout_ref.actor.ppo_mini_batch_size
    if mini > prompts or prompts % mini:
        raise ConfigCheckError(
            f"actor_rollout_ref.actor.ppo_mini_batch_size ({mini}) must divide data.train_batch_size ({prompts})"
        )


def check_hosted_judge_has_its_pool(cfg: DictConfig) -> None:
    """verl 0.9.1's v1 trainer scores a verl-hosted judge without its own pool through `_compute_reward_colocate`,
    which passes the reward manager no `data_source`/`reward_model`/`extra_info`: the first reward crashes."""
    judge = cfg.reward.reward_model
    if judge.enable and cfg.trainer.get("use_v1", True) and not judge.enable_resource_pool:
        raise ConfigCheckError(
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
        raise ConfigCheckError(
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
        raise ConfigCheckError(f"data.custom_cls {dict(cfg.data.custom_cls)} does not load: {exc}") from None
    try:
        loaded = get_custom_reward_fn(cfg)
    except (ImportError, AttributeError, FileNotFoundError, RuntimeError) as exc:
        raise ConfigCheckError(f"reward.custom_reward_function does not load: {exc}") from None
    if cfg.reward.custom_reward_function.get("path") and loaded is None:
        raise ConfigCheckError("reward.custom_reward_function.path is set but verl loaded no function")


def check_recipe_settings(cfg: DictConfig) -> None:
    """Settings verl does not read, so nothing of verl's checks them: the dataset's route filter and the
    hybrid reward's kwargs (the reward never raises during training: a bad kwarg would score every sample 0)."""
    from recipes.wethink.dataset import WeThinkDataset, kept_reward_methods
    from verl.utils.dataset.rl_dataset import get_dataset_class

    try:
        if issubclass(get_dataset_class(cfg.data), WeThinkDataset):
            kept_reward_methods(cfg.data)
    except ValueError as exc:
        raise ConfigCheckError(str(exc)) from None
    if cfg.reward.custom_reward_function.get("path") != "pkg://rewards.hybrid":
        return
    from rewards.config import RewardConfigError, check_reward_kwargs

    kwargs = OmegaConf.to_container(cfg.reward.custom_reward_function.get("reward_kwargs") or {}, resolve=True)
    try:
        check_reward_kwargs(kwargs)
    except RewardConfigError as exc:
        raise ConfigCheckError(f"reward.custom_reward_function.reward_kwargs: {exc}") from None


def validate(cfg: DictConfig) -> None:
    """Everything verl's trainer checks at start-up that needs no GPU, plus the recipe's own checks."""
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)  # every interpolation must resolve
    check_no_legacy_reward_keys(cfg)
    check_batch_geometry(cfg)
    check_hosted_judge_has_its_pool(cfg)
    check_overlong_buffer(cfg)
    validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    check_extensions_load(cfg)
    check_recipe_settings(cfg)


# What composing or validating can raise: all mean "this config cannot work", each message naming the key.
ConfigError = (HydraException, OmegaConfBaseException, ConfigCheckError, AssertionError, ValueError)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-path", required=True, help="pkg://recipes.wethink.config or a directory")
    parser.add_argument("--config-name", required=True)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, exactly as the real run gets them")
    return parser.parse_args(argv)


def compose_and_validate(argv: list[str]) -> DictConfig:
    """The config a launcher's arguments give, validated; raises one of ConfigError."""
    args = parse_args(argv)
    cfg = compose_config(args.config_path, args.config_name, args.overrides)
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the config, so it can be parsed
        validate(cfg)
    return cfg


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = compose_and_validate(sys.argv[1:] if argv is None else argv)
    except ConfigError as exc:
        print(f"dry-run: config rejected: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(OmegaConf.to_yaml(cfg))
    print(f"dry-run: {args.config_name} composed and validated against verl's ppo_trainer schema", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
