#!/usr/bin/env bash
# Hybrid reward with a judge you serve yourself (e.g. examples/judge/start_vllm_judge.sh) at JUDGE_URL.
# Usage: JUDGE_URL=http://judge-host:8000/v1 bash recipes/wethink/run_judge_external.sh [--dry-run|--smoke] [overrides...]
set -euo pipefail
CONFIG_NAME=judge_external
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-VL-7B-Instruct}
ROLLOUT_TP=${ROLLOUT_TP:-2}
JUDGE_URL=${JUDGE_URL:-http://localhost:8000/v1}
JUDGE_MODEL=${JUDGE_MODEL:-Qwen/Qwen2.5-7B-Instruct}
JUDGE_MAX_CONCURRENCY=${JUDGE_MAX_CONCURRENCY:-64}
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"${ENTRY[@]}" --config-path="$CONFIG_PATH" --config-name="$CONFIG_NAME" "${COMMON_OVERRIDES[@]}" \
  actor_rollout_ref.model.path="$MODEL_PATH" \
  actor_rollout_ref.rollout.tensor_model_parallel_size="$ROLLOUT_TP" \
  reward.custom_reward_function.reward_kwargs.judge_url="$JUDGE_URL" \
  reward.custom_reward_function.reward_kwargs.judge_model="$JUDGE_MODEL" \
  reward.custom_reward_function.reward_kwargs.judge_max_concurrency="$JUDGE_MAX_CONCURRENCY" \
  "$@"
