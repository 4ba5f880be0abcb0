#!/usr/bin/env bash
# Hybrid reward with a judge you serve yourself (e.g. examples/judge/start_vllm_judge.sh) at JUDGE_URL
# (default http://localhost:8000/v1, in config/judge_external.yaml).
# Usage: [VAR=value ...] bash run_judge_external.sh [--dry-run|--smoke] [hydra overrides...]
# Every default is in the yaml; environment variables (MODEL_PATH, DATA_DIR, JUDGE_URL, ...: README) and
# overrides change it. To fork: copy this file and its yaml anywhere, point CONFIG at the copy, edit the yaml.
set -euo pipefail
CONFIG=$(dirname "$(realpath "${BASH_SOURCE[0]}")")/config/judge_external.yaml
exec "${PYTHON:-python3}" -m recipes.wethink.launch "$CONFIG" -- "$@"  # how a run starts: recipes/wethink/launch.py
