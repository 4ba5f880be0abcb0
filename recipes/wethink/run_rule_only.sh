#!/usr/bin/env bash
# The paper's ablation: rule-based reward only; descriptive samples are dropped, the judge is never called.
# Usage: [VAR=value ...] bash run_rule_only.sh [--dry-run|--smoke] [hydra overrides...]
# Every default is in the yaml; environment variables (MODEL_PATH, DATA_DIR, JUDGE_URL, ...: README) and
# overrides change it. To fork: copy this file and its yaml anywhere, point CONFIG at the copy, edit the yaml.
set -euo pipefail
CONFIG=$(dirname "$(realpath "${BASH_SOURCE[0]}")")/config/rule_only.yaml
exec "${PYTHON:-python3}" -m recipes.wethink.launch "$CONFIG" -- "$@"  # how a run starts: recipes/wethink/launch.py
