#!/usr/bin/env bash
# Synthesize WeThink-schema QA from a folder of images, then prepare it for verl.
# Assumes two OpenAI-compatible servers are up (see README.md): a vision-language model and a text reasoner.
# Every setting is an environment variable with a default; API keys are passed by variable NAME only.
set -euo pipefail

IMAGES=${IMAGES:?set IMAGES to the image folder}
OUT=${OUT:-data/synth/qa.jsonl}
VLM_URL=${VLM_URL:-http://localhost:8000/v1}
VLM_MODEL=${VLM_MODEL:-Qwen/Qwen2.5-VL-72B-Instruct}
REASONER_URL=${REASONER_URL:-http://localhost:8001/v1}
REASONER_MODEL=${REASONER_MODEL:-Qwen/QwQ-32B}
CONCURRENCY=${CONCURRENCY:-32}
QUESTIONS=${QUESTIONS:-3}
REFINE_TURNS=${REFINE_TURNS:-2}
EXTRA_ARGS=${EXTRA_ARGS:-}  # e.g. "--arbiter-url ... --arbiter-model ... --vlm-key-env OPENAI_API_KEY"
PREP_ARGS=${PREP_ARGS:-}    # e.g. "--tokenizer /models/Qwen2.5-VL-7B-Instruct" (count prompt text tokens too)

# Re-running the same command resumes: finished images are skipped, cached replies are not re-requested.
# shellcheck disable=SC2086
python -m data_prep.synthesize \
  --images "$IMAGES" --out "$OUT" \
  --vlm-url "$VLM_URL" --vlm-model "$VLM_MODEL" \
  --reasoner-url "$REASONER_URL" --reasoner-model "$REASONER_MODEL" \
  --concurrency "$CONCURRENCY" --questions-per-image "$QUESTIONS" --refine-turns "$REFINE_TURNS" \
  --timeout 300 --retries 3 --max-tokens 4096 \
  $EXTRA_ARGS || status=$?
if [ "${status:-0}" -eq 1 ]; then
  echo "some images failed on endpoint errors: run this script again to retry them" >&2
  exit 1
elif [ "${status:-0}" -ne 0 ]; then
  exit "$status"
fi

# The rows are in the WeThink schema: the prepare step takes them unchanged. --overwrite: a re-run (more images
# done) replaces the previous preparation; until it completes, the previous one stays whole.
# shellcheck disable=SC2086
python -m data_prep.wethink --jsonl "$OUT" --image-root "$IMAGES" --out "$(dirname "$OUT")/verl" --overwrite $PREP_ARGS
