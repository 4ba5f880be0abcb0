"""Dependencies point one way: `rewards` (loaded on every Ray worker) imports nothing from `data_prep` or
`recipes`, and the synthesis package has no import cycle, so any of its modules can be imported first.

Each import runs in a fresh interpreter: in this process earlier tests have already imported everything.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.repo import REPO as ROOT

REWARDS = sorted(f"rewards.{p.stem}" for p in (ROOT / "rewards").glob("*.py") if p.stem != "__init__")
SYNTHESIZE = ROOT / "data_prep" / "synthesize"
SYNTH_MODULES = sorted(
    "data_prep.synthesize" + ("" if p.stem == "__init__" else f".{p.stem}") for p in SYNTHESIZE.glob("*.py")
)
# Prints the top-level packages of ours that `import <module>` loaded, one per line.
PROBE = (
    "import importlib, sys; importlib.import_module(sys.argv[1]); "
    "print('\\n'.join(sorted({m.split('.')[0] for m in sys.modules} & {'rewards', 'data_prep', 'recipes'})))"
)


def loaded_packages(module: str, cwd: Path = ROOT) -> set[str]:
    """Our top-level packages that importing `module` alone loads; raises with the child's error if it fails."""
    run = subprocess.run([sys.executable, "-c", PROBE, module], cwd=cwd, capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        raise ImportError(f"import {module} in a fresh interpreter failed:\n{run.stderr[-2000:]}")
    return set(run.stdout.split())


@pytest.mark.parametrize("module", REWARDS)
def test_every_reward_module_imports_without_data_prep_or_recipes(module):
    assert loaded_packages(module) == {"rewards"}


def test_the_probe_sees_a_data_prep_import():
    """Negative control: the probe reports data_prep when a module does pull it in (schema re-exports rewards)."""
    assert loaded_packages("data_prep.schema") == {"data_prep", "rewards"}


@pytest.mark.parametrize("module", SYNTH_MODULES)
def test_every_synthesis_module_imports_first_in_a_fresh_interpreter(module):
    assert "data_prep" in loaded_packages(module)


def _runtime_imports(path: Path, package: str, type_hints: bool = False) -> set[str]:
    """Sibling modules `path` imports at run time (imports under `if TYPE_CHECKING:` are not run), or with
    `type_hints` those too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(node)
        for stmt in ast.walk(tree)
        if not type_hints and isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test)
        for node in ast.walk(stmt)
    }
    siblings: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            absolute = node.module if node.level == 0 else ".".join(filter(None, [package, node.module]))
            if node.level > 1 or not absolute or not absolute.startswith(package):
                continue
            rest = absolute[len(package) :].lstrip(".")
            siblings.update([rest.split(".")[0]] if rest else [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            siblings.update(a.name.split(".")[2] for a in node.names if a.name.startswith(package + "."))
    return siblings


def import_cycle(directory: Path, package: str, type_hints: bool = False) -> list[str] | None:
    """One cycle in the run-time import graph of the package's modules (as a path a -> ... -> a), or None; with
    `type_hints`, the imports made only for type checking count too."""
    graph = {p.stem: _runtime_imports(p, package, type_hints) for p in directory.glob("*.py")}
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node) :] + [node]
        if node in done or node not in graph:
            return None
        for dep in sorted(graph[node]):
            cycle = visit(dep, path + [node])
            if cycle:
                return cycle
        done.add(node)
        return None

    return next(filter(None, (visit(node, []) for node in sorted(graph) if node != "__init__")), None)


def test_the_synthesis_package_has_no_import_cycle():
    assert import_cycle(SYNTHESIZE, "data_prep.synthesize") is None


def test_the_synthesis_package_has_no_import_cycle_in_its_type_hints_either():
    """Modules that need each other's types are one job split in two (the summary once named the pipeline's config)."""
    assert import_cycle(SYNTHESIZE, "data_prep.synthesize", type_hints=True) is None


def test_a_cycle_is_found_and_fails_an_import(tmp_path):
    """Negative control for both checks above, on a two-module package that imports itself in a circle."""
    pkg = tmp_path / "circular"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import B\nA = 1\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n"
                              "from circular.a import A\nB = 2\n")  # fmt: skip
    (pkg / "c.py").write_text("from . import a\nC = 3\n")
    assert import_cycle(pkg, "circular") == ["a", "b", "a"]
    assert import_cycle(pkg, "circular", type_hints=True) == ["a", "b", "a"]
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\nB = 2\n")
    assert import_cycle(pkg, "circular") is None
    assert import_cycle(pkg, "circular", type_hints=True) == ["a", "b", "c", "a"]
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n"
                              "from circular.a import A\nB = 2\n")  # fmt: skip
    with pytest.raises(ImportError, match="partially initialized"):
        loaded_packages("circular.a", cwd=tmp_path)
