"""The VLMEvalKit config evaluates every benchmark as the official WeThink entry does, on the leaderboards' splits.

The official entry and the class defaults below are transcribed from open-compass/VLMEvalKit (vlmeval/config.py
'WeThink-Qwen2.5VL-7B' and vlmeval/vlm/wethink_vl.py, unchanged in behaviour from #1003 of 2025-05-22 to
e8e78f05), and so are the two rules of WeThinkVL.generate_inner that depend on the dataset name.
"""

import json
import subprocess
import sys

import pytest

from tests.repo import REPO

SCRIPT = REPO / "examples" / "eval" / "make_vlmeval_config.py"

OFFICIAL_ENTRY = {  # supported_VLM['WeThink-Qwen2.5VL-7B'] minus model_path
    "min_pixels": 1280 * 28 * 28,
    "max_pixels": 16384 * 28 * 28,
    "use_custom_prompt": False,
    "system_prompt": (
        "You FIRST think about the reasoning process as an internal monologue and then provide the final answer.\n"
        "The reasoning process MUST BE enclosed within <think> </think> tags. "
        "The final answer MUST BE enclosed within <answer> </answer> tags."
    ),
}
WETHINKVL_DEFAULTS = {  # WeThinkVL.__init__ defaults the entry does not override
    "max_new_tokens": 2048, "top_p": 0.001, "top_k": 1, "temperature": 0.01, "repetition_penalty": 1.0,
    "post_process": False,
}
# vlmeval/tools.py dataset levels: 'l1' (the academic leaderboard; MMBench_V11 there is the mean of the two
# TEST_*_V11 splits, the internal file holding their answers) and 'math' (the reasoning leaderboard).
LEADERBOARD_DATASETS = {
    "MathVista_MINI", "MathVision", "MathVerse_MINI_Vision_Only", "DynaMath", "WeMath", "LogicVista",
    "MMBench_TEST_EN_V11", "MMBench_TEST_CN_V11", "MMStar", "MMMU_DEV_VAL", "HallusionBench", "AI2D_TEST",
    "OCRBench", "MMVet",
}
DATASET_CLASSES = {  # the vlmeval.dataset class whose DATASET_URL holds each name
    "MathVista_MINI": "MathVista", "MathVision": "MathVision", "MathVerse_MINI_Vision_Only": "MathVerse",
    "DynaMath": "Dynamath", "WeMath": "WeMath", "LogicVista": "LogicVista", "MMBench_TEST_EN_V11": "ImageMCQDataset",
    "MMBench_TEST_CN_V11": "ImageMCQDataset", "MMStar": "ImageMCQDataset", "MMMU_DEV_VAL": "MMMUDataset",
    "HallusionBench": "ImageYORNDataset", "AI2D_TEST": "ImageMCQDataset", "OCRBench": "OCRBench", "MMVet": "MMVet",
}


def how_wethinkvl_answers(model_kwargs: dict, dataset: str) -> dict:
    """What WeThinkVL does on one dataset: the two name-dependent rules of its generate_inner."""
    kwargs = {**WETHINKVL_DEFAULTS, **model_kwargs}
    return {
        "answer_extracted_from_tags": bool(kwargs["post_process"] or "mmbench" in dataset.lower()),
        "system_prompt": None if dataset in ("OCRBench", "AI2D_TEST") else kwargs["system_prompt"],
        **{k: kwargs[k] for k in (*OFFICIAL_ENTRY, *WETHINKVL_DEFAULTS) if k not in ("system_prompt", "post_process")},
    }


def differences(ours: dict, datasets) -> dict:
    official = {d: how_wethinkvl_answers(OFFICIAL_ENTRY, d) for d in datasets}
    mine = {d: how_wethinkvl_answers(ours, d) for d in datasets}
    return {d: {k: (mine[d][k], official[d][k]) for k in official[d] if mine[d][k] != official[d][k]}
            for d in datasets if mine[d] != official[d]}


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "eval.json"
    subprocess.run([sys.executable, str(SCRIPT), "--model-path", "/ckpt/hf", "--out", str(out)], check=True)
    return json.loads(out.read_text())


def test_every_benchmark_is_evaluated_as_the_official_entry_does(config):
    (name, model), = config["model"].items()
    assert model["class"] == "WeThinkVL" and model["model_path"] == "/ckpt/hf"
    ours = {k: v for k, v in model.items() if k not in ("class", "model_path")}
    assert set(ours) == set(OFFICIAL_ENTRY) | set(WETHINKVL_DEFAULTS)
    assert differences(ours, config["data"]) == {}
    # per benchmark: the answer is taken out of <answer> for MMBench only, the system prompt dropped on two
    per_dataset = {d: how_wethinkvl_answers(ours, d) for d in config["data"]}
    assert {d for d, how in per_dataset.items() if how["answer_extracted_from_tags"]} == {
        "MMBench_TEST_EN_V11", "MMBench_TEST_CN_V11"}
    assert {d for d, how in per_dataset.items() if how["system_prompt"] is None} == {"OCRBench", "AI2D_TEST"}


def test_the_old_post_process_setting_is_caught(config):
    """Negative control: the previous config (post_process on) differs from the entry on every other benchmark."""
    (_, model), = config["model"].items()
    old = {k: v for k, v in model.items() if k not in ("class", "model_path")} | {"post_process": True}
    mmbench = {"MMBench_TEST_EN_V11", "MMBench_TEST_CN_V11"}
    assert set(differences(old, config["data"])) == LEADERBOARD_DATASETS - mmbench


def test_datasets_are_the_leaderboards_splits_built_by_their_classes(config):
    assert set(config["data"]) == LEADERBOARD_DATASETS
    assert "MMBench_DEV_EN_V11" not in config["data"]  # the split the config used before: not the leaderboard's
    assert {key: entry["class"] for key, entry in config["data"].items()} == DATASET_CLASSES
    assert all(entry["dataset"] == key for key, entry in config["data"].items())


def test_benchmarks_can_be_chosen_and_unknown_ones_are_refused(tmp_path):
    out = tmp_path / "two.json"
    subprocess.run([sys.executable, str(SCRIPT), "--model-path", "m", "--benchmarks", "MMBench", "OCRBench",
                    "--out", str(out)], check=True, capture_output=True)
    assert set(json.loads(out.read_text())["data"]) == {"MMBench_TEST_EN_V11", "MMBench_TEST_CN_V11", "OCRBench"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--model-path", "m", "--benchmarks", "MathVistaa", "--out", str(tmp_path / "x")],
        capture_output=True, text=True,
    )
    assert result.returncode != 0 and "MathVistaa" in result.stderr and not (tmp_path / "x").exists()
