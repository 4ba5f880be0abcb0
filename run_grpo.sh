#!/usr/bin/env bash
# The WeThink paper run (arXiv 2506.07905): GRPO on Qwen2.5-VL-7B with the hybrid reward, 1 node x 8 GPUs.
#
#   bash run_grpo.sh                      # trains; with no DATA_DIR, on the bundled sample (examples/sample)
#   bash run_grpo.sh --dry-run [k=v ...]  # composes + validates the full verl config, prints it, no GPU needed
#   bash run_grpo.sh --smoke [k=v ...]    # verl's real trainer end to end on this CPU, tiny model, 2 steps
#
# Every default is in recipes/wethink/config/wethink_7b.yaml (and wethink_grpo.yaml it includes). Environment
# variables override it only when set (MODEL_PATH, DATA_DIR, NNODES, JUDGE_URL, ...: the table in README,
# "Settings and which layer wins"); overrides on the command line win over both.
# Every launcher of every variant is in recipes/wethink/ (this one's twin: recipes/wethink/run_wethink_7b.sh).
set -euo pipefail
CONFIG=$(dirname "$(realpath "${BASH_SOURCE[0]}")")/recipes/wethink/config/wethink_7b.yaml
exec "${PYTHON:-python3}" -m recipes.wethink.launch "$CONFIG" -- "$@"  # how a run starts: recipes/wethink/launch.py
