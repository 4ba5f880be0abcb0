#!/usr/bin/env bash
# Evaluate a WeThink checkpoint with VLMEvalKit as the official WeThink entry does, then summarize the scores
# next to the paper's. Works from any directory; relative paths are taken from where you run it.
#   CKPT=checkpoints/wethink/wethink_7b_grpo/global_step_450/actor VLMEVALKIT_DIR=~/VLMEvalKit \
#     bash examples/eval/run_eval.sh
# Needs a GPU node with VLMEvalKit installed (pip install -e VLMEvalKit), its benchmark data and its judge
# (OPENAI_API_KEY / OPENAI_API_BASE in VLMEvalKit's .env) set up.
#   CKPT            a verl actor checkpoint (.../global_step_N/actor) or a Hugging Face model dir
#   VLMEVALKIT_DIR  your VLMEvalKit checkout (holds run.py)
#   HF_DIR          where the merged Hugging Face model goes (default: $CKPT/huggingface_merged)
#   NAME            the model name in VLMEvalKit's outputs (default: WeThink-verl-7B)
#   WORK_DIR        VLMEvalKit's --work-dir (default: outputs/vlmeval in this repository)
#   BENCHMARKS      paper benchmark names (default: all 13), GPUS (default: 8), PYTHON (default: python3)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PYTHON=${PYTHON:-python3}

absolute() { "$PYTHON" -c 'import os, sys; print(os.path.abspath(sys.argv[1]))' "$1"; }  # from the caller's cwd
die() { echo "run_eval.sh: $*" >&2; exit 2; }

CKPT=$(absolute "${CKPT:?set CKPT to a verl actor checkpoint dir (.../global_step_N/actor) or a Hugging Face model dir}")
VLMEVALKIT_DIR=$(absolute "${VLMEVALKIT_DIR:?set VLMEVALKIT_DIR to your VLMEvalKit checkout}")
HF_DIR=$(absolute "${HF_DIR:-$CKPT/huggingface_merged}")
WORK_DIR=$(absolute "${WORK_DIR:-$REPO/outputs/vlmeval}")
NAME=${NAME:-WeThink-verl-7B}
GPUS=${GPUS:-8}
BENCHMARKS=${BENCHMARKS:-"MathVista MathVision MathVerse DynaMath WeMath LogicVista MMBench MMStar MMMU HallusionBench AI2D OCRBench MMVet"}

[[ -d $CKPT ]] || die "CKPT=$CKPT is not a directory"
[[ -f $VLMEVALKIT_DIR/run.py ]] || die "VLMEVALKIT_DIR=$VLMEVALKIT_DIR has no run.py (is it a VLMEvalKit checkout?)"
[[ $NAME =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "NAME=$NAME: use letters, digits, '.', '_' and '-' only"

if [[ -f $CKPT/config.json ]]; then            # already a Hugging Face model
  HF_DIR=$CKPT
elif [[ ! -f $HF_DIR/config.json ]]; then     # a verl FSDP checkpoint: merge it, in place only when complete
  rm -rf "$HF_DIR.partial"
  "$PYTHON" -m verl.model_merger merge --backend fsdp --local_dir "$CKPT" --target_dir "$HF_DIR.partial"
  mv "$HF_DIR.partial" "$HF_DIR"
fi

mkdir -p "$WORK_DIR"
CONFIG=$WORK_DIR/$NAME.json
# shellcheck disable=SC2086  # BENCHMARKS is a word list
"$PYTHON" "$HERE/make_vlmeval_config.py" --model-path "$HF_DIR" --name "$NAME" --benchmarks $BENCHMARKS --out "$CONFIG"
(cd "$VLMEVALKIT_DIR" && torchrun --nproc-per-node="$GPUS" run.py --config "$CONFIG" --work-dir "$WORK_DIR")
"$PYTHON" "$HERE/summarize.py" "$WORK_DIR/$NAME" --out-dir "$WORK_DIR/$NAME"
