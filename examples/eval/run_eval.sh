#!/usr/bin/env bash
# Evaluate a WeThink checkpoint with VLMEvalKit, the way the paper's model was evaluated.
#   CKPT=checkpoints/wethink/wethink_7b/global_step_500/actor VLMEVALKIT_DIR=~/VLMEvalKit bash examples/eval/run_eval.sh
# Needs a GPU node with VLMEvalKit installed (pip install -e VLMEvalKit) and its benchmark data/judge set up.
set -euo pipefail
CKPT=${CKPT:?set CKPT to a verl actor checkpoint dir (.../global_step_N/actor) or a Hugging Face model dir}
VLMEVALKIT_DIR=${VLMEVALKIT_DIR:?set VLMEVALKIT_DIR to your VLMEvalKit checkout}
HF_DIR=${HF_DIR:-$CKPT/huggingface_merged}
NAME=${NAME:-WeThink-verl-7B}
GPUS=${GPUS:-8}
WORK_DIR=${WORK_DIR:-outputs/vlmeval}
BENCHMARKS=${BENCHMARKS:-"MathVista MathVision MathVerse DynaMath WeMath LogicVista MMBench MMStar MMMU HallusionBench AI2D OCRBench MMVet"}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ ! -f "$CKPT/config.json" && ! -f "$HF_DIR/config.json" ]]; then   # a verl FSDP checkpoint: merge it first
  python3 -m verl.model_merger merge --backend fsdp --local_dir "$CKPT" --target_dir "$HF_DIR"
fi
[[ -f "$CKPT/config.json" ]] && HF_DIR=$CKPT
mkdir -p "$WORK_DIR"
# shellcheck disable=SC2086
python3 "$HERE/make_vlmeval_config.py" --model-path "$(cd "$HF_DIR" && pwd)" --name "$NAME" \
  --benchmarks $BENCHMARKS --out "$WORK_DIR/wethink_eval.json"
cd "$VLMEVALKIT_DIR"
torchrun --nproc-per-node="$GPUS" run.py --config "$OLDPWD/$WORK_DIR/wethink_eval.json" --work-dir "$OLDPWD/$WORK_DIR"
