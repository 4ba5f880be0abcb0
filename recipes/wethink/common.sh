# Sourced by every WeThink launcher (not run on its own). It owns what all variants share:
#   --dry-run (must be the first argument): compose + validate the config with verl's schema, print it, no GPU;
#   --smoke (likewise): run verl's real trainer end to end on CPU with a tiny model (recipes/wethink/smoke.py);
#   fail fast without a GPU otherwise; the bundled sample data when DATA_DIR is unset;
#   a local run, or `ray job submit` to a running cluster when RAY_ADDRESS is set;
#   COMMON_OVERRIDES: the Hydra overrides built from the shared environment variables below.
# The launcher then makes its one verl call: "${ENTRY[@]}" --config-path=... --config-name=... ... "$@", where ENTRY is
# `python3 -m recipes.wethink.main` (verl's main_ppo + per-route reward metrics), or --dry-run's / --smoke's module.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONFIG_PATH=pkg://recipes.wethink.config
PYTHON=${PYTHON:-python3}

DRY_RUN=0
SMOKE=0
if [[ "${1:-}" == "--dry-run" ]]; then DRY_RUN=1; shift; fi
if [[ "${1:-}" == "--smoke" ]]; then SMOKE=1; shift; fi
# What follows on the command line is the user's: --smoke inserts its CPU overrides before it, so it still wins.
export WETHINK_USER_OVERRIDES=$#

# Shared knobs (each launcher may set its own defaults before sourcing this file).
NNODES=${NNODES:-1}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
PROJECT_NAME=${PROJECT_NAME:-wethink}
EXPERIMENT_NAME=${EXPERIMENT_NAME:-$CONFIG_NAME}
if [[ $SMOKE == 1 ]]; then
  # Never next to a real run's checkpoints (resume_mode=auto would pick up the tiny model); absolute for Ray.
  CKPT_DIR=$(realpath -m "${CKPT_DIR:-checkpoints/smoke/$EXPERIMENT_NAME}")
fi
CKPT_DIR=${CKPT_DIR:-checkpoints/$PROJECT_NAME/$EXPERIMENT_NAME}
# Optional knobs, passed only when set (their defaults live in config/wethink_grpo.yaml):
#   SAVE_FREQ, TEST_FREQ, TOTAL_EPOCHS, LOGGER (e.g. '[console,tensorboard,wandb]'),
#   JUDGE_CACHE (e.g. $CKPT_DIR/judge_cache.sqlite: verdicts survive restarts).
SAMPLE_DATA_DIR=${SAMPLE_DATA_DIR:-$REPO_ROOT/outputs/sample_data}

wethink_fail() { echo "error: $*" >&2; exit 1; }

# A cluster run (RAY_ADDRESS): every worker's current directory is Ray's per-job copy on its own node, so relative
# paths would scatter checkpoints and logs across nodes and vanish with the job. Make them absolute, and refuse
# inputs that are not there (they must be on a filesystem every node reads).
wethink_absolute_paths() {
  CKPT_DIR=$(realpath -m "$CKPT_DIR")
  TENSORBOARD_DIR=$(realpath -m "${TENSORBOARD_DIR:-tensorboard_log/$PROJECT_NAME/$EXPERIMENT_NAME}")
  export TENSORBOARD_DIR  # read by --smoke's submission too
  if [[ -n "${JUDGE_CACHE:-}" ]]; then JUDGE_CACHE=$(realpath -m "$JUDGE_CACHE"); fi
  if [[ -n "${DATA_DIR:-}" ]]; then
    DATA_DIR=$(realpath -m "$DATA_DIR")
    [[ -f "$DATA_DIR/train.parquet" && -f "$DATA_DIR/val.parquet" ]] || wethink_fail \
      "DATA_DIR=$DATA_DIR has no train.parquet + val.parquet (with RAY_ADDRESS it must be a path every node reads)"
  fi
  if [[ -n "${MODEL_PATH:-}" && ( -e "$MODEL_PATH" || "$MODEL_PATH" == /* || "$MODEL_PATH" == .* || "$MODEL_PATH" == "~"* ) ]]; then
    MODEL_PATH=$(realpath -m "$MODEL_PATH")
    [[ -d "$MODEL_PATH" ]] || wethink_fail "MODEL_PATH=$MODEL_PATH does not exist (a local model must be on every node)"
  fi
  echo "cluster run: CKPT_DIR=$CKPT_DIR TENSORBOARD_DIR=$TENSORBOARD_DIR${DATA_DIR:+ DATA_DIR=$DATA_DIR}" >&2
}

# `ray job submit` with a runtime env written for this submission: the judge key (the variable JUDGE_API_KEY_ENV
# names) and TENSORBOARD_DIR reach every worker on every node (recipes/wethink/runtime_env.py); deleted at exit.
wethink_runtime_env_file() {
  RUNTIME_ENV_FILE=$(mktemp "${TMPDIR:-/tmp}/wethink-runtime-env.XXXXXX.yaml")
  trap 'rm -f "$RUNTIME_ENV_FILE"' EXIT
}
wethink_submit_entry() {
  wethink_runtime_env_file
  "$PYTHON" -m recipes.wethink.runtime_env --base "$REPO_ROOT/recipes/wethink/runtime_env.yaml" \
    --out "$RUNTIME_ENV_FILE" --set TENSORBOARD_DIR="$TENSORBOARD_DIR" --pass "${JUDGE_API_KEY_ENV:-}"
  SUBMIT=(ray job submit --address="$RAY_ADDRESS" --working-dir="$REPO_ROOT" --runtime-env="$RUNTIME_ENV_FILE"
          -- python3 -m recipes.wethink.main)
}

if [[ -n "${RAY_ADDRESS:-}" ]]; then
  wethink_absolute_paths
fi

if [[ $DRY_RUN == 1 ]]; then
  ENTRY=("$PYTHON" -m recipes.wethink.dry_run)
  if [[ -n "${RAY_ADDRESS:-}" ]]; then
    wethink_submit_entry
    echo "dry-run: with RAY_ADDRESS the run is submitted as: ${SUBMIT[*]} --config-path=$CONFIG_PATH" \
      "--config-name=$CONFIG_NAME <the overrides in the config below>" >&2
  fi
elif [[ $SMOKE == 1 ]]; then
  # With RAY_ADDRESS it submits to that cluster through `ray job submit` (smoke.py writes the runtime env file
  # this shell deletes at exit), else it starts a local Ray.
  if [[ -n "${RAY_ADDRESS:-}" ]]; then
    wethink_runtime_env_file
    export WETHINK_RUNTIME_ENV_FILE=$RUNTIME_ENV_FILE
  fi
  ENTRY=("$PYTHON" -m recipes.wethink.smoke)
elif [[ -n "${RAY_ADDRESS:-}" ]]; then
  # Multi-node: `ray start --head` / `ray start --address=...` on every node first (README), then submit.
  wethink_submit_entry
  ENTRY=("${SUBMIT[@]}")
else
  if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q "GPU"; then
    wethink_fail "no NVIDIA GPU found on this machine. verl trains on GPUs only. To check the configuration" \
      "without a GPU, run: bash ${WETHINK_LAUNCHER:-$0} --dry-run [overrides...] (or --smoke to run it end to end" \
      "on this CPU with a tiny model); to use a cluster, set RAY_ADDRESS."
  fi
  ENTRY=("$PYTHON" -m recipes.wethink.main)
fi

# Data: a prepared WeThink directory (train.parquet, val.parquet from `python -m data_prep.wethink`),
# or, with no DATA_DIR, the small sample in examples/ prepared on the fly (images embedded, so no shared FS needed).
SAMPLE_OVERRIDES=()
if [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=$SAMPLE_DATA_DIR
  # The sample has a few dozen rows: shrink the batch so a step exists (512 prompts/step is the paper value).
  SAMPLE_OVERRIDES=(data.train_batch_size="${SAMPLE_BATCH_SIZE:-16}" actor_rollout_ref.actor.ppo_mini_batch_size="${SAMPLE_MINI_BATCH_SIZE:-8}")
  if [[ $DRY_RUN == 0 && ! -f "$DATA_DIR/train.parquet" ]]; then
    echo "DATA_DIR unset: preparing the bundled sample into $DATA_DIR" >&2
    "$PYTHON" -m data_prep.wethink --jsonl "$REPO_ROOT/examples/sample/wethink_sample.jsonl" \
      --image-root "$REPO_ROOT/examples/sample/images" --out "$DATA_DIR" --embed-images --val-size 8
  fi
fi

wethink_warn_missing_key() {  # $1: the NAME of the variable that should hold the judge's API key
  if [[ -n "${1:-}" && "$1" != "null" && -z "${!1:-}" && $DRY_RUN == 0 ]]; then
    echo "warning: \$$1 is empty: the judge will refuse requests and descriptive samples score accuracy 0" >&2
  fi
}

COMMON_OVERRIDES=(
  data.train_files="$DATA_DIR/train.parquet"
  data.val_files="$DATA_DIR/val.parquet"
  "${SAMPLE_OVERRIDES[@]}"
  trainer.nnodes="$NNODES"
  trainer.n_gpus_per_node="$GPUS_PER_NODE"
  trainer.project_name="$PROJECT_NAME"
  trainer.experiment_name="$EXPERIMENT_NAME"
  trainer.default_local_dir="$CKPT_DIR"
)
for knob in SAVE_FREQ=trainer.save_freq TEST_FREQ=trainer.test_freq TOTAL_EPOCHS=trainer.total_epochs \
            LOGGER=trainer.logger JUDGE_CACHE=reward.custom_reward_function.reward_kwargs.judge_cache; do
  var=${knob%%=*}
  if [[ -n "${!var:-}" ]]; then COMMON_OVERRIDES+=("${knob#*=}=${!var}"); fi
done
