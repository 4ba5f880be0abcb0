"""Shared fixtures: the tiny Qwen2.5-VL checkpoint (built once per session, offline, in seconds)."""

import pytest

from recipes.cpu.tiny_model import build_tiny_qwen25vl


@pytest.fixture(scope="session")
def tiny_vl_dir(tmp_path_factory):
    """A saved tiny Qwen2.5-VL (tokenizer, processor, random model) loadable with `from_pretrained`."""
    return build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny_qwen25vl"), with_model=True)


def pytest_collection_modifyitems(config, items):
    """End-to-end runs (minutes each) first, the paper run (with its resume) first of all: with two workers the
    short tests then fill the gaps at the end instead of one worker waiting on a long run started last."""
    def weight(item) -> int:
        if item.get_closest_marker("e2e") is None:
            return 2
        return 0 if "paper_run" in item.name else 1

    items.sort(key=weight)  # stable: the order within each class is kept
