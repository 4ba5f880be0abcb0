#!/usr/bin/env bash
# The one test command (README, CI): from a fresh clone on a CPU machine, set everything up and run pytest.
# Uses the active virtualenv if there is one, else creates ./.venv. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
VENV_DIR=${VENV_DIR:-.venv}
if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -x "$VENV_DIR/bin/python" ] || "$PYTHON" -m venv "$VENV_DIR"
  # shellcheck disable=SC1091
  . "$VENV_DIR/bin/activate"
fi

python -m pip install -q --upgrade pip
# verl 0.9.1's torch pins; torchvision is needed by the Qwen2.5-VL processor (runs on CPU).
python -m pip install -q torch==2.11.0 torchvision==0.26.0
python -m pip install -q -e ".[test]"
# vLLM 0.24.0's CPU build on the same torch (the end-to-end runs on verl's own vLLM rollout need it); refuses a GPU
# machine, whose vLLM comes from the [gpu] extra. Quick when it is already installed.
python -m recipes.cpu.install_vllm
# Two workers: the end-to-end runs (verl's trainer on CPU, ~1.5 min each) overlap their idle start-up phases.
# The long runs are collected first (conftest.py) and handed out one test at a time (--maxschedchunk 1), so each
# worker takes the next test when it is free: longest first, the short tests fill the gaps at the end.
python -m pytest -q -p no:cacheprovider -n "${PYTEST_WORKERS:-2}" --dist load --maxschedchunk 1 --durations=12 "$@"
