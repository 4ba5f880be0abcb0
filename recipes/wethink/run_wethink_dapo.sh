#!/usr/bin/env bash
# The paper run plus DAPO: groups with nothing to learn (same reward for all 5 rollouts) are dropped and refilled.
# Usage: [VAR=value ...] bash run_wethink_dapo.sh [--dry-run|--smoke] [hydra overrides...]
# Every default is in the yaml; environment variables (MODEL_PATH, DATA_DIR, JUDGE_URL, ...: README) and
# overrides change it. To fork: copy this file and its yaml anywhere, point CONFIG at the copy, edit the yaml.
set -euo pipefail
CONFIG=$(dirname "$(realpath "${BASH_SOURCE[0]}")")/config/wethink_dapo.yaml
exec "${PYTHON:-python3}" -m recipes.wethink.launch "$CONFIG" -- "$@"  # how a run starts: recipes/wethink/launch.py
