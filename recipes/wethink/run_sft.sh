#!/usr/bin/env bash
# Cold start (SFT): verl 0.9.1's SFT trainer (torchrun -m verl.trainer.sft_trainer) on Qwen2.5-VL-7B, trained on
#   python -m data_prep.sft --jsonl wethink.jsonl --image-root IMAGES --out sft.parquet --format verl
# Usage: [VAR=value ...] bash run_sft.sh [--dry-run|--smoke] [hydra overrides...]   (the flag in any position)
# Knobs, each an override only when set: SFT_FILE MODEL_PATH NNODES GPUS_PER_NODE CKPT_DIR EXPERIMENT_NAME
# (multi-node: MASTER_ADDR, NODE_RANK, MASTER_PORT on every node). Defaults: config/sft_7b.yaml; overrides win.
# To fork: copy this file and its yaml anywhere, point CONFIG at the copy, edit the yaml.
set -euo pipefail
CONFIG=$(dirname "$(realpath "${BASH_SOURCE[0]}")")/config/sft_7b.yaml
exec "${PYTHON:-python3}" -m recipes.wethink.launch "$CONFIG" -- "$@"  # how a run starts: recipes/wethink/launch.py
