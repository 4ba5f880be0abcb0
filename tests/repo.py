"""The one place tests find the repository and its parts: the root, the bundled sample, the recipe's launchers and
configs, a prepared sample, a verl config composed as every launch composes it (the gate's compose), and verl's own
`ppo_trainer` config for the tests that put one part of the recipe into an otherwise plain verl config."""

from __future__ import annotations

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
