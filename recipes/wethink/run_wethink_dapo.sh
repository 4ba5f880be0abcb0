#!/usr/bin/env bash
# The paper run plus DAPO: groups with nothing to learn (same reward for all 5 rollouts) are dropped and refilled.
# Usage: [VAR=value ...] bash recipes/wethink/run_wethink_dapo.sh [--dry-run|--smoke] [hydra overrides...]
set -euo pipefail
CONFIG_NAME=wethink_dapo
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-VL-7B-Instruct}
ROLLOUT_TP=${ROLLOUT_TP:-2}
JUDGE_URL=${JUDGE_URL:-https://api.deepseek.com/v1}
JUDGE_MODEL=${JUDGE_MODEL:-deepseek-chat}
JUDGE_API_KEY_ENV=${JUDGE_API_KEY_ENV:-DEEPSEEK_API_KEY}
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
wethink_warn_missing_key "$JUDGE_API_KEY_ENV"

"${ENTRY[@]}" --config-path="$CONFIG_PATH" --config-name="$CONFIG_NAME" "${COMMON_OVERRIDES[@]}" \
  actor_rollout_ref.model.path="$MODEL_PATH" \
  actor_rollout_ref.rollout.tensor_model_parallel_size="$ROLLOUT_TP" \
  reward.custom_reward_function.reward_kwargs.judge_url="$JUDGE_URL" \
  reward.custom_reward_function.reward_kwargs.judge_model="$JUDGE_MODEL" \
  reward.custom_reward_function.reward_kwargs.judge_api_key_env="$JUDGE_API_KEY_ENV" \
  "$@"
