"""The VLMEvalKit config carries the paper's evaluation protocol, from the same constants training uses."""

import json
import subprocess
import sys
from pathlib import Path

from data_prep.schema import SYSTEM_PROMPT

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "eval" / "make_vlmeval_config.py"


def test_config_matches_the_paper_protocol(tmp_path):
    out = tmp_path / "eval.json"
    subprocess.run([sys.executable, str(SCRIPT), "--model-path", "/ckpt/hf", "--out", str(out)], check=True)
    config = json.loads(out.read_text())
    (name, model), = config["model"].items()
    assert model["class"] == "WeThinkVL" and model["model_path"] == "/ckpt/hf"
    assert (model["min_pixels"], model["max_pixels"]) == (1280 * 28 * 28, 16384 * 28 * 28)
    assert model["system_prompt"] == SYSTEM_PROMPT and model["use_custom_prompt"] is False
    assert model["max_new_tokens"] == 2048 and model["top_k"] == 1 and model["post_process"] is True
    # VLMEvalKit's WeThinkVL skips the system prompt for exactly these two names: they must be spelled so.
    assert {"OCRBench", "AI2D_TEST"} <= set(config["data"])
    assert len(config["data"]) == 13
    assert all(entry["dataset"] == key for key, entry in config["data"].items())


def test_unknown_benchmark_is_refused(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--model-path", "m", "--benchmarks", "MathVistaa", "--out", str(tmp_path / "x")],
        capture_output=True, text=True,
    )
    assert result.returncode != 0 and "MathVistaa" in result.stderr
