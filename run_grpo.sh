#!/usr/bin/env bash
# The WeThink paper run (arXiv 2506.07905): GRPO on Qwen2.5-VL-7B with the hybrid reward, 1 node x 8 GPUs.
#
#   bash run_grpo.sh                      # trains; with no DATA_DIR, on the bundled sample (examples/sample)
#   bash run_grpo.sh --dry-run [k=v ...]  # composes + validates the full verl config, prints it, no GPU needed
#   bash run_grpo.sh --smoke [k=v ...]    # verl's real trainer end to end on this CPU, tiny model, 2 steps
#
# Knobs (environment variables): MODEL_PATH, DATA_DIR (from `python -m data_prep.wethink`), NNODES,
# GPUS_PER_NODE, ROLLOUT_TP, JUDGE_URL, JUDGE_MODEL, JUDGE_API_KEY_ENV (the NAME of the variable with the key),
# JUDGE_CACHE, EXPERIMENT_NAME, CKPT_DIR, SAVE_FREQ, TEST_FREQ, TOTAL_EPOCHS, LOGGER, RAY_ADDRESS (multi-node).
# Every launcher of every variant is in recipes/wethink/; this one is recipes/wethink/run_wethink_7b.sh.
set -euo pipefail
WETHINK_LAUNCHER=$0 exec bash "$(dirname "${BASH_SOURCE[0]}")/recipes/wethink/run_wethink_7b.sh" "$@"
