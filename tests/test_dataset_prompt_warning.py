"""A multimodal prompt over `data.max_prompt_length` in a parquet that did not go through data prep: verl 0.9.1's
agent loop refuses it and the trainer drops the row's whole group, logging only a random uid. `WeThinkDataset` names
the row once, with the count verl's own rollout path would produce (checked row by row against it)."""

from __future__ import annotations

import logging

from recipes.wethink.dataset import WeThinkDataset
from tests.test_dataset_verl import data_config, load, prepared, rollout_inputs, tiny  # noqa: F401 (fixtures)

LOGGER = "recipes.wethink.dataset"


def verl_prompt_length(dataset, row) -> int:
    """The prompt's length on verl's rollout path (the dataset's hook, the chat template, the processor)."""
    _, inputs = rollout_inputs(WeThinkDataset, row, dataset.config, dataset.processor)
    return len(inputs["input_ids"][0])


def warned_rows(records) -> list[int]:
    return [int(r.getMessage().split()[1]) for r in records if r.name == LOGGER and r.levelno == logging.WARNING]


def test_a_prompt_over_the_limit_is_named_once_with_verls_count(prepared, tiny, caplog):  # noqa: F811
    _, out, _ = prepared
    probe = load([out / "train.parquet"], data_config(["data.filter_overlong_prompts=False"]), tiny)
    lengths = [verl_prompt_length(probe, probe[i]) for i in range(len(probe))]
    assert [sum(probe.prompt_tokens(probe[i]["raw_prompt"])) for i in range(len(probe))] == lengths

    limit = sorted(lengths)[len(lengths) // 2]  # about half the rows are over it
    cfg = data_config(["data.filter_overlong_prompts=False", f"data.max_prompt_length={limit}"])
    dataset = load([out / "train.parquet"], cfg, tiny)
    over = [i for i, n in enumerate(lengths) if n > limit]
    assert 0 < len(over) < len(lengths)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(2):  # a second epoch in the same process says nothing new
            rows = [dataset[i] for i in range(len(dataset))]
    assert warned_rows(caplog.records) == over  # each over-long row once; none at or under the limit
    first = next(r.getMessage() for r in caplog.records if r.name == LOGGER)
    assert f"extra_info.index={rows[over[0]]['extra_info']['index']}" in first
    assert f"the prompt is {lengths[over[0]]} tokens" in first and str(out / "train.parquet") in first

    # Control: with the limit above every prompt, nothing is said.
    caplog.clear()
    roomy = load([out / "train.parquet"], data_config(["data.filter_overlong_prompts=False",
                                                       f"data.max_prompt_length={max(lengths)}"]), tiny)  # fmt: skip
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        [roomy[i] for i in range(len(roomy))]
    assert warned_rows(caplog.records) == []
