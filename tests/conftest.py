"""Shared fixtures: the tiny Qwen2.5-VL checkpoint (built once per session, offline, in seconds), and for the
end-to-end runs the launchers' model cache, the prepared sample and a loopback judge."""

import os

import pytest

from recipes.cpu.tiny_model import build_tiny_qwen25vl


@pytest.fixture(scope="session")
def tiny_vl_dir(tmp_path_factory):
    """A saved tiny Qwen2.5-VL (tokenizer, processor, random model) loadable with `from_pretrained`."""
    return build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny_qwen25vl"), with_model=True)


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """One tiny model (in a cache the launchers read) and one prepared sample for every end-to-end run. The model
    (taught the answer format: about two minutes of CPU) is built once for all xdist workers: in the folder their
    temporary roots share, under a lock, the second worker finding it built."""
    from filelock import FileLock

    from data_prep.wethink import prepare
    from recipes.cpu.tiny_model import ensure_tiny_model
    from tests.e2e import REPO

    root = tmp_path_factory.mktemp("e2e_shared")
    common = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    cache = common / "e2e_model_cache"
    with FileLock(str(common / "e2e_model_cache.lock")):
        ensure_tiny_model(cache)
    data = root / "sample_data"
    sample = REPO / "examples" / "sample"
    prepare(sample / "wethink_sample.jsonl", sample / "images", data, val_size=8, embed_images=True, progress=False)
    return {"cache": cache, "data": data}


@pytest.fixture
def judge():
    """A loopback judge of the test's own (its requests and headers are this test's alone)."""
    from tests.e2e import grading_judge
    from tests.openai_server import ChatServer

    with ChatServer(grading_judge) as server:
        yield server


def pytest_collection_modifyitems(config, items):
    """End-to-end runs (minutes each) first, the longest first of all (the two-node run's two submissions, then
    the vLLM paper run): with two workers the short tests then fill the gaps at the end instead of one worker
    waiting on a long run started last. xdist (`--dist load`) starts each worker on two consecutive tests: the
    first worker gets the two-node tests (one runs, the other skips: Slurm or a plain Ray cluster) and builds the
    tiny model they all share; the second starts on the README's GPU install resolutions (a minute or two of
    waiting on the package index, no model) instead of waiting on that build (CI lost 98 s that way)."""
    def weight(item) -> int:
        if "two_node" in item.name:
            return 0
        if "gpu_install_resolves" in item.name:
            return 1
        if item.get_closest_marker("e2e") is None or "shared" not in item.fixturenames:
            return 4  # not a trainer run
        return 2 if "paper_run_on_vllm" in item.name else 3

    items.sort(key=weight)  # stable: the order within each class is kept
