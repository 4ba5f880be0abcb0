"""Shared fixtures: the tiny Qwen2.5-VL checkpoint (built once per session, offline, in seconds)."""

import pytest

from recipes.cpu.tiny_model import build_tiny_qwen25vl


@pytest.fixture(scope="session")
def tiny_vl_dir(tmp_path_factory):
    """A saved tiny Qwen2.5-VL (tokenizer, processor, random model) loadable with `from_pretrained`."""
    return build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny_qwen25vl"), with_model=True)
