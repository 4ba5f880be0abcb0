#!/usr/bin/env bash
# The paper run: GRPO on Qwen2.5-VL-7B, hybrid reward judged by DeepSeek-V3 (any OpenAI-compatible API).
# The judge key: export DEEPSEEK_API_KEY (or name your variable with JUDGE_API_KEY_ENV).
# Usage: [VAR=value ...] bash run_wethink_7b.sh [--dry-run|--smoke] [hydra overrides...]
# Every default is in the yaml; environment variables (MODEL_PATH, DATA_DIR, JUDGE_URL, ...: README) and
# overrides change it. To fork: copy this file and its yaml anywhere, point CONFIG at the copy, edit the yaml.
set -euo pipefail
CONFIG=$(dirname "$(realpath "${BASH_SOURCE[0]}")")/config/wethink_7b.yaml
exec "${PYTHON:-python3}" -m recipes.wethink.launch "$CONFIG" -- "$@"  # how a run starts: recipes/wethink/launch.py
