#!/usr/bin/env bash
# The paper's ablation: rule-based reward only; descriptive samples are dropped, the judge is never called.
# Usage: [VAR=value ...] bash recipes/wethink/run_rule_only.sh [--dry-run|--smoke] [hydra overrides...]
set -euo pipefail
CONFIG_NAME=rule_only
MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-VL-7B-Instruct}
ROLLOUT_TP=${ROLLOUT_TP:-2}
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"${ENTRY[@]}" --config-path="$CONFIG_PATH" --config-name="$CONFIG_NAME" "${COMMON_OVERRIDES[@]}" \
  actor_rollout_ref.model.path="$MODEL_PATH" \
  actor_rollout_ref.rollout.tensor_model_parallel_size="$ROLLOUT_TP" \
  "$@"
