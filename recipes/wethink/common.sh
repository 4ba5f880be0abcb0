# Sourced by every WeThink launcher (not run on its own), found through the installed package so that a launcher
# copied anywhere still finds it:  source "$("${PYTHON:-python3}" -m recipes.wethink.common_sh)"
# The launcher sets CONFIG (its yaml) first, and after sourcing makes its one verl call:
#   "${ENTRY[@]}" "${WETHINK_ARGS[@]}" "$@"
#
# The yaml decides every default. Which layer wins: a command-line override > an environment variable > the yaml
# (and the yamls it includes) > verl's own default. An environment variable adds its override only when it is set
# (WETHINK_KNOBS below); unset, it adds nothing.
#
# It also owns what all variants share: --dry-run (compose + validate with verl's schema, print it, no GPU) and
# --smoke (verl's real trainer end to end on CPU with a tiny model), accepted in any argument position; the
# bundled sample data when DATA_DIR is unset; a local run (GPU required), or `ray job submit` to a running
# cluster when RAY_ADDRESS is set.

PYTHON=${PYTHON:-python3}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
wethink_fail() { echo "error: $*" >&2; exit 1; }

[[ -n "${CONFIG:-}" ]] || wethink_fail "the launcher must set CONFIG (the path of its yaml) before sourcing common.sh"
[[ -f "$CONFIG" ]] || wethink_fail "CONFIG=$CONFIG: no such file (a forked launcher points CONFIG at its own yaml)"
CONFIG_DIR=$(cd "$(dirname "$CONFIG")" && pwd)
CONFIG_NAME=$(basename "$CONFIG" .yaml)

DRY_RUN=0
SMOKE=0
WETHINK_USER_ARGS=()
for arg in "$@"; do
  case $arg in
    --dry-run) DRY_RUN=1 ;;
    --smoke) SMOKE=1 ;;
    *) WETHINK_USER_ARGS+=("$arg") ;;
  esac
done
[[ $DRY_RUN == 1 && $SMOKE == 1 ]] && wethink_fail "--dry-run and --smoke: pick one"
set -- ${WETHINK_USER_ARGS[@]+"${WETHINK_USER_ARGS[@]}"}
# What follows on the command line is the user's: --smoke inserts its CPU overrides before it, so it still wins.
export WETHINK_USER_OVERRIDES=$#

# One environment variable per knob, the same in every launcher, README and the reward's docs. `++` where the yaml
# leaves the key to its code default (rewards/config.py), so it may be absent from the composed config.
WETHINK_KNOBS=(
  MODEL_PATH=actor_rollout_ref.model.path
  ROLLOUT_TP=actor_rollout_ref.rollout.tensor_model_parallel_size
  NNODES=trainer.nnodes
  GPUS_PER_NODE=trainer.n_gpus_per_node
  PROJECT_NAME=trainer.project_name
  EXPERIMENT_NAME=trainer.experiment_name
  CKPT_DIR=trainer.default_local_dir
  SAVE_FREQ=trainer.save_freq
  TEST_FREQ=trainer.test_freq
  TOTAL_EPOCHS=trainer.total_epochs
  LOGGER=trainer.logger
  JUDGE_URL=reward.custom_reward_function.reward_kwargs.judge_url
  JUDGE_MODEL=reward.custom_reward_function.reward_kwargs.judge_model
  JUDGE_API_KEY_ENV=reward.custom_reward_function.reward_kwargs.judge_api_key_env
  JUDGE_TIMEOUT=++reward.custom_reward_function.reward_kwargs.judge_timeout
  JUDGE_RETRIES=++reward.custom_reward_function.reward_kwargs.judge_retries
  JUDGE_MAX_CONCURRENCY=++reward.custom_reward_function.reward_kwargs.judge_max_concurrency
  JUDGE_CACHE=++reward.custom_reward_function.reward_kwargs.judge_cache
  JUDGE_MODEL_PATH=reward.reward_model.model_path
  JUDGE_TP=reward.reward_model.rollout.tensor_model_parallel_size
)

SAMPLE_DATA_DIR=${SAMPLE_DATA_DIR:-$REPO_ROOT/outputs/sample_data}
RUN_NAME=${EXPERIMENT_NAME:-$CONFIG_NAME}  # names the directories the launcher itself must choose (below)
if [[ $SMOKE == 1 ]]; then
  # Never next to a real run's checkpoints (resume_mode=auto would pick up the tiny model); absolute for Ray.
  CKPT_DIR=$(realpath -m "${CKPT_DIR:-checkpoints/smoke/$RUN_NAME}")
fi

# A cluster run (RAY_ADDRESS): every worker's current directory is Ray's per-job copy on its own node, so relative
# paths would scatter checkpoints and logs across nodes and vanish with the job. Make them absolute (the yaml's
# relative checkpoint default included); wethink_check_inputs then refuses inputs that are not there (they must be
# on a filesystem every node reads).
wethink_absolute_paths() {
  CKPT_DIR=$(realpath -m "${CKPT_DIR:-checkpoints/\${trainer.project_name\}/\${trainer.experiment_name\}}")
  if [[ $SMOKE == 1 ]]; then TENSORBOARD_DIR=${TENSORBOARD_DIR:-tensorboard_log/smoke/$RUN_NAME}; fi
  if [[ -n "${TENSORBOARD_DIR:-}" ]]; then
    TENSORBOARD_DIR=$(realpath -m "$TENSORBOARD_DIR")  # unset: verl's default, made absolute by runtime_env.py
    export TENSORBOARD_DIR  # read by --smoke's submission too
  fi
  if [[ -n "${JUDGE_CACHE:-}" ]]; then JUDGE_CACHE=$(realpath -m "$JUDGE_CACHE"); fi
  if [[ -n "${DATA_DIR:-}" ]]; then DATA_DIR=$(realpath -m "$DATA_DIR"); fi
  if [[ -n "${MODEL_PATH:-}" && ( -e "$MODEL_PATH" || "$MODEL_PATH" == /* || "$MODEL_PATH" == .* || "$MODEL_PATH" == "~"* ) ]]; then
    MODEL_PATH=$(realpath -m "$MODEL_PATH")
  fi
}

# A private file for the job's runtime env, deleted when this shell exits.
wethink_runtime_env_file() {
  RUNTIME_ENV_FILE=$(mktemp "${TMPDIR:-/tmp}/wethink-runtime-env.XXXXXX.yaml")
  trap 'rm -f "$RUNTIME_ENV_FILE"' EXIT
}

# Inputs that must be there, in every mode (--dry-run included): a prepared DATA_DIR, a local MODEL_PATH (a local
# --smoke trains its tiny model instead). A hub name (Qwen/Qwen2.5-VL-7B-Instruct) is not a local path.
wethink_check_inputs() {
  local where=${RAY_ADDRESS:+ (with RAY_ADDRESS it must be a path every node reads)}
  if [[ -n "${DATA_DIR:-}" && ! ( -f "$DATA_DIR/train.parquet" && -f "$DATA_DIR/val.parquet" ) ]]; then
    wethink_fail "DATA_DIR=$DATA_DIR has no train.parquet + val.parquet$where: prepare it with" \
      "python -m data_prep.wethink, or leave DATA_DIR unset for the bundled sample"
  fi
  if [[ ( $SMOKE == 0 || -n "${RAY_ADDRESS:-}" ) && -n "${MODEL_PATH:-}" \
        && ( "$MODEL_PATH" == /* || "$MODEL_PATH" == .* || "$MODEL_PATH" == "~"* ) && ! -d "$MODEL_PATH" ]]; then
    wethink_fail "MODEL_PATH=$MODEL_PATH: no such directory$where (a local model; a hub name looks like" \
      "Qwen/Qwen2.5-VL-7B-Instruct)"
  fi
}

if [[ -n "${RAY_ADDRESS:-}" ]]; then
  wethink_absolute_paths
fi
wethink_check_inputs
if [[ -n "${RAY_ADDRESS:-}" ]]; then
  echo "cluster run: CKPT_DIR=$CKPT_DIR${TENSORBOARD_DIR:+ TENSORBOARD_DIR=$TENSORBOARD_DIR}${DATA_DIR:+ DATA_DIR=$DATA_DIR}" >&2
fi

# Data: a prepared WeThink directory (train.parquet, val.parquet from `python -m data_prep.wethink`),
# or, with no DATA_DIR, the small sample in examples/ prepared on the fly (images embedded, so no shared FS needed).
WETHINK_ARGS=(--config-path="$CONFIG_DIR" --config-name="$CONFIG_NAME")
if [[ -z "${DATA_DIR:-}" ]]; then
  DATA_DIR=$SAMPLE_DATA_DIR
  # The sample has a few dozen rows: shrink the batch so a step exists (512 prompts/step is the paper value).
  WETHINK_ARGS+=(data.train_batch_size="${SAMPLE_BATCH_SIZE:-16}" actor_rollout_ref.actor.ppo_mini_batch_size="${SAMPLE_MINI_BATCH_SIZE:-8}")
  if [[ $DRY_RUN == 0 && ! -f "$DATA_DIR/train.parquet" ]]; then
    echo "DATA_DIR unset: preparing the bundled sample into $DATA_DIR" >&2
    "$PYTHON" -m data_prep.wethink --jsonl "$REPO_ROOT/examples/sample/wethink_sample.jsonl" \
      --image-root "$REPO_ROOT/examples/sample/images" --out "$DATA_DIR" --embed-images --val-size 8 --overwrite  # a half-prepared one is redone
  fi
fi
WETHINK_ARGS+=(data.train_files="$DATA_DIR/train.parquet" data.val_files="$DATA_DIR/val.parquet")
for knob in "${WETHINK_KNOBS[@]}"; do
  var=${knob%%=*}
  if [[ -n "${!var:-}" ]]; then WETHINK_ARGS+=("${knob#*=}=${!var}"); fi
done

# `ray job submit` with a runtime env written for this submission: the judge key (by the name the composed config's
# judge_api_key_env holds) and TENSORBOARD_DIR reach every worker on every node (recipes/wethink/runtime_env.py,
# which composes and validates the config first: a setting that cannot work stops here, not on the cluster).
wethink_submit_entry() {
  wethink_runtime_env_file
  "$PYTHON" -m recipes.wethink.runtime_env --base "$REPO_ROOT/recipes/wethink/runtime_env.yaml" \
    --out "$RUNTIME_ENV_FILE" ${TENSORBOARD_DIR:+--set TENSORBOARD_DIR="$TENSORBOARD_DIR"} -- "${WETHINK_ARGS[@]}" "$@"
  SUBMIT=(ray job submit --address="$RAY_ADDRESS" --working-dir="$REPO_ROOT" --runtime-env="$RUNTIME_ENV_FILE"
          -- python3 -m recipes.wethink.main)
}

if [[ $DRY_RUN == 1 ]]; then
  ENTRY=("$PYTHON" -m recipes.wethink.dry_run)
  if [[ -n "${RAY_ADDRESS:-}" ]]; then
    wethink_submit_entry "$@"  # what a real submission runs, up to the submission itself
    echo "dry-run: with RAY_ADDRESS the run is submitted as: ${SUBMIT[*]} <the arguments of the config below>" >&2
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
  wethink_submit_entry "$@"
  ENTRY=("${SUBMIT[@]}")
else
  if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q "GPU"; then
    wethink_fail "no NVIDIA GPU found on this machine. verl trains on GPUs only. To check the configuration" \
      "without a GPU, run: bash ${WETHINK_LAUNCHER:-$0} --dry-run [overrides...] (or --smoke to run it end to end" \
      "on this CPU with a tiny model); to use a cluster, set RAY_ADDRESS."
  fi
  ENTRY=("$PYTHON" -m recipes.wethink.main)
fi
