"""examples/eval/run_eval.sh from another directory, with relative and absolute paths.

Only the two external programs are stand-ins (verl's model merger and VLMEvalKit behind `torchrun run.py`):
they record the exact command line and working directory they get, and do the minimum their real
counterparts do (a merged model dir; one scored result file). The script's own steps run for real:
path handling, the config writer and the summary.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.repo import REPO

SCRIPT = REPO / "examples" / "eval" / "run_eval.sh"

MERGER = """
import json, os, sys
from pathlib import Path
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps({"prog": "verl.model_merger", "argv": sys.argv[1:], "cwd": os.getcwd()}) + "\\n")
if os.environ.get("STUB_MERGER_FAIL"):
    target = Path(sys.argv[sys.argv.index("--target_dir") + 1])
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")  # a half-written model, as a killed merge leaves it
    sys.exit(1)
target = Path(sys.argv[sys.argv.index("--target_dir") + 1])
target.mkdir(parents=True)
(target / "config.json").write_text("{}")
(target / "model.safetensors").write_bytes(b"weights")
"""

TORCHRUN = """#!{python}
import json, os, sys
from pathlib import Path
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps({{"prog": "torchrun", "argv": sys.argv[1:], "cwd": os.getcwd()}}) + "\\n")
argv = sys.argv[1:]
config = json.loads(Path(argv[argv.index("--config") + 1]).read_text())
(name,) = config["model"]
run = Path(argv[argv.index("--work-dir") + 1]) / name
run.mkdir(parents=True, exist_ok=True)
score = {{"Final Score": 871, "Final Score Norm": 87.1}}
(run / f"{{name}}_OCRBench_score.json").write_text(json.dumps(score, indent=4))
"""


def make_world(root: Path) -> dict:
    """A verl checkpoint, a VLMEvalKit checkout and the two stand-ins, under a path with a space in it."""
    root = root.resolve() / "my runs"
    actor = root / "ckpts" / "global_step_450" / "actor"
    (actor / "huggingface").mkdir(parents=True)
    (actor / "huggingface" / "config.json").write_text("{}")  # verl keeps the HF config here, weights elsewhere
    (actor / "model_world_size_8_rank_0.pt").write_bytes(b"shard")
    vlmevalkit = root / "VLMEvalKit"
    vlmevalkit.mkdir()
    (vlmevalkit / "run.py").write_text("raise SystemExit('the torchrun stand-in never runs this')\n")
    stubs = root / "stubs"
    (stubs / "verl" / "model_merger").mkdir(parents=True)
    (stubs / "verl" / "__init__.py").write_text("")
    (stubs / "verl" / "model_merger" / "__init__.py").write_text("")
    (stubs / "verl" / "model_merger" / "__main__.py").write_text(MERGER)
    (stubs / "bin").mkdir()
    (stubs / "bin" / "torchrun").write_text(TORCHRUN.format(python=sys.executable))
    (stubs / "bin" / "torchrun").chmod(0o755)
    elsewhere = root / "somewhere else"
    elsewhere.mkdir()
    return {"root": root, "actor": actor, "vlmevalkit": vlmevalkit, "stubs": stubs, "cwd": elsewhere,
            "log": root / "calls.jsonl"}


def run_eval(world: dict, script: Path = SCRIPT, **env_vars) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PWD", "OLDPWD", "HF_DIR", "WORK_DIR", "NAME")}
    env.update(PATH=f"{world['stubs'] / 'bin'}{os.pathsep}{env['PATH']}", PYTHONPATH=str(world["stubs"]),
               PYTHON=sys.executable, STUB_LOG=str(world["log"]), **env_vars)
    return subprocess.run(["bash", str(script)], cwd=world["cwd"], env=env, capture_output=True, text=True)


def calls(world: dict) -> list[dict]:
    if not world["log"].exists():
        return []
    return [json.loads(line) for line in world["log"].read_text().splitlines()]


def test_relative_paths_from_another_directory(tmp_path):
    world = make_world(tmp_path)
    result = run_eval(world, CKPT="../ckpts/global_step_450/actor", VLMEVALKIT_DIR="../VLMEvalKit",
                      WORK_DIR="evals", GPUS="2")
    assert result.returncode == 0, result.stderr
    hf_dir = world["actor"] / "huggingface_merged"
    work_dir = world["cwd"] / "evals"
    config = work_dir / "WeThink-verl-7B.json"
    merge, torchrun = calls(world)
    assert merge == {"prog": "verl.model_merger", "cwd": str(world["cwd"]), "argv": [
        "merge", "--backend", "fsdp", "--local_dir", str(world["actor"]), "--target_dir", f"{hf_dir}.partial"]}
    assert torchrun == {"prog": "torchrun", "cwd": str(world["vlmevalkit"]), "argv": [
        "--nproc-per-node=2", "run.py", "--config", str(config), "--work-dir", str(work_dir)]}
    assert (hf_dir / "model.safetensors").exists() and not Path(f"{hf_dir}.partial").exists()
    assert json.loads(config.read_text())["model"]["WeThink-verl-7B"]["model_path"] == str(hf_dir)
    summary = (work_dir / "WeThink-verl-7B" / "summary.md").read_text()
    assert "| OCRBench | 871 | 888 | 890 |" in summary and (work_dir / "WeThink-verl-7B" / "summary.png").exists()

    again = run_eval(world, CKPT=str(world["actor"]), VLMEVALKIT_DIR=str(world["vlmevalkit"]),
                     WORK_DIR=str(work_dir), GPUS="2")  # absolute paths now; the merged model is reused
    assert again.returncode == 0, again.stderr
    assert [c["prog"] for c in calls(world)] == ["verl.model_merger", "torchrun", "torchrun"]
    assert calls(world)[-1]["argv"] == torchrun["argv"]


def test_hugging_face_checkpoint_and_default_work_dir(tmp_path):
    world = make_world(tmp_path)
    model = world["root"] / "hf model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    repo = world["root"] / "repo copy"  # the default WORK_DIR is in the repository: use a copy of its eval folder
    shutil.copytree(SCRIPT.parent, repo / "examples" / "eval", ignore=shutil.ignore_patterns("__pycache__"))
    result = run_eval(world, repo / "examples" / "eval" / "run_eval.sh", CKPT="../hf model",
                      VLMEVALKIT_DIR=str(world["vlmevalkit"]), NAME="mine-7B")
    assert result.returncode == 0, result.stderr
    (torchrun,) = calls(world)  # nothing to merge
    work_dir = repo / "outputs" / "vlmeval"  # in the repository, not in the cwd
    config = work_dir / "mine-7B.json"
    assert torchrun["argv"] == ["--nproc-per-node=8", "run.py", "--config", str(config), "--work-dir", str(work_dir)]
    assert json.loads(config.read_text())["model"]["mine-7B"]["model_path"] == str(model)
    assert not (world["cwd"] / "outputs").exists()


def test_a_failed_merge_leaves_no_model_that_looks_complete(tmp_path):
    world = make_world(tmp_path)
    result = run_eval(world, CKPT=str(world["actor"]), VLMEVALKIT_DIR=str(world["vlmevalkit"]),
                      WORK_DIR="evals", STUB_MERGER_FAIL="1")
    assert result.returncode != 0
    assert not (world["actor"] / "huggingface_merged").exists()  # only .partial, which the next run clears
    assert [c["prog"] for c in calls(world)] == ["verl.model_merger"]


def test_missing_inputs_are_named(tmp_path):
    world = make_world(tmp_path)
    result = run_eval(world, CKPT="../nowhere", VLMEVALKIT_DIR=str(world["vlmevalkit"]))
    assert result.returncode == 2 and f"CKPT={world['root'] / 'nowhere'} is not a directory" in result.stderr
    result = run_eval(world, CKPT=str(world["actor"]), VLMEVALKIT_DIR="..")
    assert result.returncode == 2 and "has no run.py" in result.stderr
    assert calls(world) == []
