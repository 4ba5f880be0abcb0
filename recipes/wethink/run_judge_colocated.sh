#!/usr/bin/env bash
# Hybrid reward with verl hosting the judge (reward.reward_model.*) on its own GPUs; no external server.
# Default: one 8-GPU node, 4 GPUs train (trainer.n_gpus_per_node) + 4 judge (reward.reward_model.n_gpus_per_node),
# judge model JUDGE_MODEL_PATH, its tensor parallelism JUDGE_TP.
# Usage: [VAR=value ...] bash run_judge_colocated.sh [--dry-run|--smoke] [hydra overrides...]
# Every default is in the yaml; environment variables (MODEL_PATH, DATA_DIR, JUDGE_URL, ...: README) and
# overrides change it. To fork: copy this file and its yaml anywhere, point CONFIG at the copy, edit the yaml.
set -euo pipefail
CONFIG=$(dirname "$(realpath "${BASH_SOURCE[0]}")")/config/judge_colocated.yaml
exec "${PYTHON:-python3}" -m recipes.wethink.launch "$CONFIG" -- "$@"  # how a run starts: recipes/wethink/launch.py
