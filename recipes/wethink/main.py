"""The recipe's entry point: verl's PPO trainer, plus the hybrid reward's per-route metrics at every step.

    python -m recipes.wethink.main --config-path=pkg://recipes.wethink.config --config-name=wethink_7b ...

verl 0.9.1's default (v1, `sync`) trainer logs the reward's extra keys only at validation and one blended score
per training step (verl issue #4545). This module is the smallest extension that logs them every step, in
verl-recipe's pattern (a task runner and a trainer subclass); everything else is verl's:

- `WeThinkTrainer` is verl's `PPOTrainerSync`; after verl computes a step's metrics it reads the same step's
  samples back from the TransferQueue (reward extras, the row's category, response length) and adds
  `recipes.wethink.metrics.step_metrics` (`wethink/...`) to what verl logs (console, tensorboard, wandb, ...);
  validation adds the same names under `val-aux/wethink/`. A judge whose `judge_ok` share falls below
  `JUDGE_OK_WARN_BELOW` gets one WARNING per step naming its URL and main failure.
- `WeThinkTaskRunner` is verl's `TaskRunnerV1`, serving `WeThinkTrainer` for verl's `sync` mode in its own
  process (the mode name stays `sync`: verl keys replay and checkpoint behaviour on it).

A metrics failure never stops training: it is logged once and the step goes on.
"""

from __future__ import annotations

import logging
import os

import hydra
from hydra.core.hydra_config import HydraConfig
import ray
from verl.trainer.main_ppo import TaskRunnerV1, run_ppo
from verl.trainer.ppo.v1 import PPOTrainerSync
from verl.trainer.ppo.v1 import trainer_base as verl_trainer_base
from verl.utils.device import auto_set_device

from recipes.wethink.gate import ConfigRejected, check_added_keys, validate
from recipes.wethink.metrics import judge_health, step_metrics
from rewards.row import CATEGORY

logger = logging.getLogger(__name__)
logger.setLevel(os.getenv("VERL_LOGGING_LEVEL", "INFO"))

JUDGE_OK_WARN_BELOW = 0.5  # judge_ok share of a step's judge-route samples under which a WARNING is logged
TRAIN_PREFIX = "wethink/"
VAL_PREFIX = "val-aux/wethink/"


def _lengths(responses) -> list[int]:
    """Response lengths of a TransferQueue `responses` field (nested/jagged, or a padded tensor)."""
    if hasattr(responses, "offsets"):
        return [int(n) for n in responses.offsets().diff().tolist()]
    return [len(row) for row in responses]


def _items(value) -> list:
    """A non-tensor TransferQueue field as a list (a tensordict NonTensorStack, a linked list, an array)."""
    return list(value.tolist()) if hasattr(value, "tolist") else list(value)


def samples_of_step(fields, tags: list[dict]) -> list[dict]:
    """One dict per real (non-padding) sample: the reward's extras, the row's category, the response length."""
    extras = _items(fields["extra_fields"])
    infos = _items(fields["extra_info"]) if "extra_info" in fields.keys() else [None] * len(extras)
    lengths = _lengths(fields["responses"])
    samples = []
    for tag, extra, info, length in zip(tags, extras, infos, lengths, strict=True):
        if tag.get("is_padding", False):
            continue
        reward = (extra or {}).get("reward_extra_info", {}) if isinstance(extra, dict) else {}
        category = info.get(CATEGORY) if isinstance(info, dict) else None
        samples.append({**reward, CATEGORY: category, "response_length": length})
    return samples


def judge_label(config) -> str:
    """Where the judge is, as the judge-health warning names it."""
    kwargs = config.reward.custom_reward_function.get("reward_kwargs") or {}
    if kwargs.get("judge_url"):
        return str(kwargs["judge_url"])
    if config.reward.reward_model.enable:
        return "verl-hosted judge"
    return "no judge configured (reward_kwargs.judge_url=null)"


class WeThinkTrainer(PPOTrainerSync):
    """verl's sync PPO trainer with the hybrid reward's per-route metrics at every training step."""

    _metrics_failed = False

    def _compute_metrics(self, batch, metrics, timing_raw, global_steps, epoch):
        result = super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
        try:
            import transfer_queue as tq

            fields = tq.kv_batch_get(
                keys=batch.keys,
                partition_id=batch.partition_id,
                select_fields=["extra_fields", "extra_info", "responses"],
            )
            samples = samples_of_step(fields, list(batch.tags))
            metrics.update(step_metrics(samples, prefix=TRAIN_PREFIX))
            metrics[f"{TRAIN_PREFIX}samples"] = len(samples)  # what the update trained on (full batch under DAPO)
            warning = judge_health(samples, judge_label(self.config), threshold=JUDGE_OK_WARN_BELOW)
            if warning:
                logger.warning("step %s: %s", global_steps, warning)
        except Exception:  # noqa: BLE001 - metrics must never take a training step down
            if not self._metrics_failed:
                self._metrics_failed = True
                logger.exception("wethink metrics failed (logged once); training goes on without them")
        return result

    def _val_metrics_update(self, data_sources, sample_uids, reward_extra_infos_dict, sample_turns, **kwargs):
        metrics = super()._val_metrics_update(data_sources, sample_uids, reward_extra_infos_dict, sample_turns, **kwargs)
        try:
            keys = [k for k, v in reward_extra_infos_dict.items() if len(v) == len(sample_uids)]
            rows = [dict(zip(keys, values, strict=True)) for values in zip(*(reward_extra_infos_dict[k] for k in keys))]
            metrics.update(step_metrics(rows, prefix=VAL_PREFIX))
        except Exception:  # noqa: BLE001
            logger.exception("wethink validation metrics failed; validation goes on without them")
        return metrics


def _serve_wethink_trainer() -> None:
    """In the task runner's process only: verl's `sync` mode gets `WeThinkTrainer` (a subclass of the one it
    registered). verl's `register_trainer` refuses to re-register a name, so the registry entry is set directly;
    fail loudly if verl moved it."""
    registry = getattr(verl_trainer_base, "TRAINER_REGISTRY", None)
    if not isinstance(registry, dict) or registry.get("sync") not in (PPOTrainerSync, WeThinkTrainer):
        raise RuntimeError("verl's v1 TRAINER_REGISTRY['sync'] is not PPOTrainerSync; update recipes/wethink/main.py")
    registry["sync"] = WeThinkTrainer


@ray.remote
class WeThinkTaskRunner(TaskRunnerV1.__ray_actor_class__):
    """verl's v1 task runner, running `WeThinkTrainer`."""

    def run(self, config):
        _serve_wethink_trainer()
        return super().run(config)


def warn_if_judge_key_missing(config) -> None:
    """An external judge with its key variable empty refuses every request: descriptive samples would score 0."""
    kwargs = config.reward.custom_reward_function.get("reward_kwargs") or {}
    name = kwargs.get("judge_api_key_env")
    if kwargs.get("judge_url") and name and not os.environ.get(str(name)):
        logger.warning("$%s is empty: the judge at %s will refuse requests and descriptive samples score accuracy 0 "
                       "(export it, or name your variable with JUDGE_API_KEY_ENV)", name, kwargs.get("judge_url"))


@hydra.main(config_path=None, config_name=None, version_base=None)
def main(config) -> None:
    """What `verl.trainer.main_ppo.main` does, with the recipe's task runner."""
    auto_set_device(config)
    try:  # the gate (verl's validate_config among its checks): a setting that cannot work stops here
        check_added_keys(config, list(HydraConfig.get().overrides.task))
        validate(config)
    except ConfigRejected as exc:
        logger.error("config rejected before training: %s: %s", type(exc).__name__, exc)
        raise SystemExit(2) from None
    warn_if_judge_key_missing(config)
    if not config.trainer.use_v1 or config.trainer.v1.trainer_mode != "sync":
        from verl.trainer.main_ppo_v0 import TaskRunner

        logger.warning("trainer.use_v1=false or trainer.v1.trainer_mode!=sync: verl's trainer runs without wethink/ metrics")
        run_ppo(config, task_runner_class=TaskRunnerV1 if config.trainer.use_v1 else TaskRunner)
        return
    run_ppo(config, task_runner_class=WeThinkTaskRunner)


if __name__ == "__main__":
    main()

