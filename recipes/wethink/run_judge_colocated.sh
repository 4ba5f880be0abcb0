#!/usr/bin/env bash
# Hybrid reward with verl hosting the judge (reward.reward_model.*) next to the actor; no external server.
# Usage: [VAR=value ...] bash recipes/wethink/run_judge_colocated.sh [--dry-run] [hydra overrides...]
set -euo pipefail
CONFIG_NAME=judge_colocated
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
