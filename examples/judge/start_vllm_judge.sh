#!/usr/bin/env bash
# Serve an instruct model as the WeThink judge: an OpenAI-compatible endpoint at http://$HOST:$PORT/v1.
# Run it on a GPU node that training can reach, then point the reward at it (examples/judge/README.md).
#   bash examples/judge/start_vllm_judge.sh                 # Qwen2.5-7B-Instruct on GPU 0, port 8000
#   JUDGE_TP=2 CUDA_VISIBLE_DEVICES=0,1 PORT=8001 bash examples/judge/start_vllm_judge.sh
# Every setting below can be overridden from the environment. Extra arguments go to `vllm serve` as-is.
set -euo pipefail

JUDGE_MODEL=${JUDGE_MODEL:-Qwen/Qwen2.5-7B-Instruct}   # HF id or local path of any instruct model
SERVED_NAME=${SERVED_NAME:-$JUDGE_MODEL}               # what the reward sends as `model` (= judge_model)
HOST=${HOST:-0.0.0.0}
PORT=${PORT:-8000}
JUDGE_TP=${JUDGE_TP:-1}                                # tensor parallel size (GPUs per judge replica)
GPU_MEMORY_UTILIZATION=${GPU_MEMORY_UTILIZATION:-0.90}
MAX_MODEL_LEN=${MAX_MODEL_LEN:-8192}                   # question + reference + candidate (cut at 4000 chars) + verdict
MAX_NUM_SEQS=${MAX_NUM_SEQS:-256}                      # >= judge_max_concurrency x reward.num_workers
SEED=${SEED:-0}
# The NAME of the variable holding an API key the server should require (unset: no key). The key itself
# is handed to vLLM through its environment (VLLM_API_KEY), never on the command line where `ps` shows it.
JUDGE_API_KEY_ENV=${JUDGE_API_KEY_ENV:-}

if ! command -v vllm >/dev/null 2>&1; then
  echo "error: vllm is not installed here; install the GPU extra (pip install -e '.[gpu]') on a GPU node" >&2
  exit 1
fi
if [[ -n "$JUDGE_API_KEY_ENV" ]]; then
  if [[ -z "${!JUDGE_API_KEY_ENV:-}" ]]; then
    echo "error: JUDGE_API_KEY_ENV=$JUDGE_API_KEY_ENV but \$$JUDGE_API_KEY_ENV is empty" >&2
    exit 1
  fi
  export VLLM_API_KEY="${!JUDGE_API_KEY_ENV}"
fi

echo "judge: $JUDGE_MODEL as '$SERVED_NAME' at http://$(hostname -f 2>/dev/null || hostname):$PORT/v1 (TP $JUDGE_TP)" >&2
exec vllm serve "$JUDGE_MODEL" \
  --served-model-name "$SERVED_NAME" \
  --host "$HOST" \
  --port "$PORT" \
  --tensor-parallel-size "$JUDGE_TP" \
  --gpu-memory-utilization "$GPU_MEMORY_UTILIZATION" \
  --max-model-len "$MAX_MODEL_LEN" \
  --max-num-seqs "$MAX_NUM_SEQS" \
  --enable-prefix-caching \
  --seed "$SEED" \
  "$@"
