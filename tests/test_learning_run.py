"""Does the recipe learn? The learning benchmark (`benchmarks/bench_learning.py`) as a test: perception and cold
start with `run_sft.sh`, then GRPO and its two negative controls (answers shuffled, lr=0) through verl's trainer
with `run_grpo.sh` on the miniature task. The benchmark's verdict asserts GRPO's rise on both routes and the
controls' flat lines; the verdict's own negative controls are in tests/test_learning_task.py.

Opt-in, `WETHINK_LEARNING=1`: it took 2043 s on a 2-core machine (the cold start 230 s, runs of 533-702 s),
and CI's whole budget is 25 minutes, of which its other tests take 22-24 (issue 21)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e import MAX_PSS_GIB
from tests.repo import REPO

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.environ.get("WETHINK_LEARNING") != "1",
                       reason="opt-in (WETHINK_LEARNING=1): ~35 minutes on 2 cores, more than CI's 25-minute budget "
                       "has left (issue 21)"),  # fmt: skip
]


def test_grpo_learns_both_routes_from_chance_and_both_controls_stay_flat(shared, tmp_path):
    out = tmp_path / "learning"
    env = {**os.environ, "WETHINK_CACHE": str(shared["cache"])}  # the tiny model the e2e runs share, built once
    bench = [sys.executable, str(REPO / "benchmarks" / "bench_learning.py"), "--out", str(out), "--runs",
             "grpo,shuffled,lr0"]  # fmt: skip
    run = subprocess.run(bench, env=env, capture_output=True, text=True, timeout=3600)
    print(run.stdout)
    said = run.stdout + run.stderr[-4000:]
    assert "\nverdict: grpo learned both routes; shuffled and lr0 did not learn\n" in run.stdout, said
    assert run.returncode == 0, run.stderr[-4000:]
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"grpo", "shuffled", "lr0"}
    for name, result in results.items():
        assert result["peak_gib"] < MAX_PSS_GIB, f"{name}: {result['peak_gib']:.1f} GiB"
    assert (out / "learning.png").stat().st_size > 10_000
