"""plot_run: a tiny tensorboard run becomes a valid PNG; a directory without event files exits 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from recipes.wethink.plot_run import load_scalars, main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

STEPS = {
    1: {
        "wethink/rule/acc": 0.50, "wethink/model/acc": 0.30, "critic/score/mean": 0.55, "wethink/format": 0.80,
        "wethink/judge_ok": 0.90, "wethink/cache_hit": 0.10, "wethink/timeout": 0.02, "wethink/judged": 12.0,
        "wethink/rule/response_length": 210.0, "wethink/model/response_length": 340.0,
        "response_length/mean": 250.0, "wethink/reason/SCORED": 0.9, "wethink/reason/JUDGE_DOWN": 0.1,
        "wethink/reason/CONFIG_ERROR": 0.0,
    },
    2: {
        "wethink/rule/acc": 0.60, "wethink/model/acc": 0.35, "critic/score/mean": 0.62, "wethink/format": 0.90,
        "wethink/judge_ok": 0.95, "wethink/cache_hit": 0.25, "wethink/timeout": 0.0, "wethink/judged": 9.0,
        "wethink/rule/response_length": 190.0, "wethink/model/response_length": 360.0,
        "response_length/mean": 240.0, "wethink/reason/SCORED": 0.95, "wethink/reason/JUDGE_DOWN": 0.05,
        "wethink/reason/CONFIG_ERROR": 0.0, "val-core/wethink/acc/mean@1": 0.41,
    },
}  # fmt: skip


def write_run(log_dir: Path, steps: dict[int, dict[str, float]]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(log_dir))
    for step, metrics in steps.items():
        for tag, value in metrics.items():
            writer.add_scalar(tag, value, global_step=step)
    writer.close()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tb")
    write_run(root / "wethink" / "exp1", STEPS)  # nested like verl's tensorboard_log/<project>/<experiment>
    return root


def test_load_scalars_reads_nested_event_files(run_dir):
    scalars = load_scalars(run_dir)
    assert scalars["wethink/rule/acc"] == [(1, pytest.approx(0.5)), (2, pytest.approx(0.6))]
    assert scalars["val-core/wethink/acc/mean@1"] == [(2, pytest.approx(0.41))]
    assert scalars["wethink/judged"][-1] == (2, 9.0)


def test_a_resumed_run_keeps_the_latest_value_per_step(tmp_path):
    write_run(tmp_path / "first", {1: {"wethink/rule/acc": 0.1}, 2: {"wethink/rule/acc": 0.2}})
    write_run(tmp_path / "second", {2: {"wethink/rule/acc": 0.7}, 3: {"wethink/rule/acc": 0.8}})
    points = load_scalars(tmp_path)["wethink/rule/acc"]
    assert [step for step, _ in points] == [1, 2, 3]
    assert points[1][1] == pytest.approx(0.7)


def test_main_writes_a_png(run_dir, capsys):
    assert main([str(run_dir)]) == 0
    out = run_dir / "run.png"
    data = out.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 20_000  # six drawn panels, not a blank canvas
    assert str(out) in capsys.readouterr().out


def test_main_honours_out_and_survives_missing_series(tmp_path, capsys):
    write_run(tmp_path / "run", {1: {"wethink/rule/acc": 0.5}, 2: {"wethink/rule/acc": 0.7}})
    out = tmp_path / "plots" / "rule_only.png"
    assert main([str(tmp_path / "run"), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    assert str(out) in capsys.readouterr().out


def test_empty_directory_exits_2_naming_it(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert str(tmp_path) in capsys.readouterr().err
    assert not (tmp_path / "run.png").exists()


def test_missing_directory_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert "nope" in capsys.readouterr().err
