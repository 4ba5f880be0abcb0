#!/usr/bin/env bash
# Hybrid reward with verl hosting the judge (reward.reward_model.*) on its own GPUs; no external server.
# Default: one 8-GPU node, 4 GPUs train (GPUS_PER_NODE) + 4 judge (reward.reward_model.n_gpus_per_node in the yaml).
# Usage: [VAR=value ...] bash recipes/wethink/run_judge_colocated.sh [--dry-run|--smoke] [hydra overrides...]
set -euo pipefail
CONFIG_NAME=judge_colocated
GPUS_PER_NODE=${GPUS_PER_NODE:-4}
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-VL-7B-Instruct}
ROLLOUT_TP=${ROLLOUT_TP:-2}
JUDGE_MODEL_PATH=${JUDGE_MODEL_PATH:-Qwen/Qwen2.5-7B-Instruct}
JUDGE_TP=${JUDGE_TP:-1}
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"${ENTRY[@]}" --config-path="$CONFIG_PATH" --config-name="$CONFIG_NAME" "${COMMON_OVERRIDES[@]}" \
  actor_rollout_ref.model.path="$MODEL_PATH" \
  actor_rollout_ref.rollout.tensor_model_parallel_size="$ROLLOUT_TP" \
  reward.reward_model.model_path="$JUDGE_MODEL_PATH" \
  reward.reward_model.rollout.tensor_model_parallel_size="$JUDGE_TP" \
  reward.custom_reward_function.reward_kwargs.judge_model="$JUDGE_MODEL_PATH" \
  "$@"
