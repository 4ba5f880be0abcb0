"""The one place tests find the repository and its parts: the root, the bundled sample, the recipe's launchers and
configs, a prepared sample, a verl config composed as every launch composes it (the gate's compose), verl's own
`ppo_trainer` config for the tests that put one part of the recipe into an otherwise plain verl config, and a
launcher's one line run in the test's own process."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample"
LAUNCHER_DIR = REPO / "recipes" / "wethink"
CONFIG_DIR = LAUNCHER_DIR / "config"


def compose(config_name: str = "wethink_7b", *overrides: str):
    """The recipe's config `config_name` with `overrides`, composed against verl's schema (not yet gated)."""
    from recipes.wethink.gate import compose_config

    return compose_config(str(CONFIG_DIR), config_name, list(overrides))


WETHINK_DATASET = ("data.custom_cls.path=pkg://recipes.wethink.dataset", "data.custom_cls.name=WeThinkDataset")


def compose_verl(*overrides: str):
    """verl's own `ppo_trainer` config (not the recipe's yaml) with `overrides`, composed by Hydra as verl's entry
    composes it (`WETHINK_DATASET`: the overrides that load the recipe's dataset class)."""
    import verl
    from hydra import compose as hydra_compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(Path(verl.__file__).parent / "trainer" / "config"), version_base=None):
        return hydra_compose(config_name="ppo_trainer", overrides=list(overrides))


def prepare_sample(out: Path, **options) -> Path:
    """The bundled sample as the launchers prepare it with no DATA_DIR (8 validation rows, images embedded)."""
    from data_prep.wethink import prepare
    from recipes.wethink.launch import SAMPLE_VAL_SIZE

    prepare(SAMPLE / "wethink_sample.jsonl", SAMPLE / "images", out, val_size=SAMPLE_VAL_SIZE, embed_images=True,
            progress=False, **options)  # fmt: skip
    return out


LAUNCH_LINE = 'exec "${PYTHON:-python3}" -m recipes.wethink.launch "$CONFIG" -- "$@"'
_CONFIG_LINE = re.compile(r'^CONFIG=\$\(dirname "\$\(realpath "\$\{BASH_SOURCE\[0\]\}"\)"\)/(\S+\.yaml)$', re.M)


def launch_in_process(
    monkeypatch, capsys, launcher: Path, *args: str, **env: str | None
) -> subprocess.CompletedProcess:
    """What `bash LAUNCHER ARGS` does, in this process: the launcher's one line (checked to be exactly `LAUNCH_LINE`
    after its `CONFIG=` line) called with ARGS and the environment changed as given (None unsets a variable). The
    same entry and arguments without a new interpreter, whose import of verl is most of a dry run's ~10 s. Returns
    what the subprocess would."""
    from recipes.wethink.launch import main

    text = launcher.read_text()
    config = _CONFIG_LINE.search(text)
    assert config and LAUNCH_LINE in text, f"{launcher} no longer starts with CONFIG=... and {LAUNCH_LINE}"
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    capsys.readouterr()
    code = main([str(launcher.parent / config.group(1)), "--", *args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["launch.main", str(launcher), *args], code, out, err)
