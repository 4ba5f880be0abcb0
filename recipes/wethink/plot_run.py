"""One PNG that says at a glance how a WeThink run is going: `python -m recipes.wethink.plot_run DIR [--out PNG]`.

Reads every tensorboard event file under DIR (recursively: verl writes tensorboard_log/<project>/<experiment>,
and a resumed run adds a file per restart) and draws per-route accuracy, format, judge health, response length,
validation and failure reasons against the training step. A series the run did not log is named on its panel
instead of failing, so the same command works for a rule-only run or a run without validation.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

Series = list[tuple[int, float]]
EVENT_FILE_MARK = "tfevents"
SHARE_YLIM = (-0.05, 1.05)


@dataclass(frozen=True)
class Line:
    tag: str
    label: str


@dataclass(frozen=True)
class Panel:
    title: str
    lines: tuple[Line, ...]
    ylabel: str = ""
    twin: tuple[Line, ...] = ()  # drawn on a right-hand axis (counts next to shares)
    twin_ylabel: str = ""
    shares: bool = False  # values in [0, 1]: fix the y range so panels compare at a glance


FIXED_PANELS = (
    Panel(
        "Accuracy per route",
        (
            Line("wethink/rule/acc", "rule acc"),
            Line("wethink/model/acc", "model (judge) acc"),
            Line("critic/score/mean", "verl score (critic/score/mean)"),
        ),
        shares=True,
    ),
    Panel("Format", (Line("wethink/format", "format ok"),), shares=True),
    Panel(
        "Judge health",
        (
            Line("wethink/judge_ok", "judge_ok share"),
            Line("wethink/cache_hit", "cache_hit share"),
            Line("wethink/timeout", "timeout share"),
        ),
        ylabel="share",
        twin=(Line("wethink/judged", "judge requests (count)"),),
        twin_ylabel="requests / step",
        shares=True,
    ),
    Panel(
        "Response length per route",
        (
            Line("wethink/rule/response_length", "rule"),
            Line("wethink/model/response_length", "model"),
            Line("response_length/mean", "all (response_length/mean)"),
        ),
        ylabel="tokens",
    ),
)


def load_scalars(directory: str | os.PathLike) -> dict[str, Series]:
    """`{tag: [(step, value), ...]}` sorted by step from every event file under `directory`.

    A step logged twice (a run resumed from an earlier checkpoint) keeps its most recent value.
    """
    from tensorboard.backend.event_processing import event_accumulator

    latest: dict[str, dict[int, tuple[float, float]]] = {}
    for path in event_files(directory):
        acc = event_accumulator.EventAccumulator(
            str(path), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0},
            purge_orphaned_data=False,
        )  # fmt: skip
        try:
            acc.Reload()
        except Exception as err:  # noqa: BLE001 - one corrupt file must not hide the others
            print(f"warning: skipped unreadable event file {path}: {err}", file=sys.stderr)
            continue
        for tag, wall_time, step, value in _scalar_events(acc):
            kept = latest.setdefault(tag, {})
            if step not in kept or wall_time >= kept[step][0]:
                kept[step] = (wall_time, value)
    return {tag: sorted((step, value) for step, (_, value) in kept.items()) for tag, kept in sorted(latest.items())}


def event_files(directory: str | os.PathLike) -> list[Path]:
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(path for path in root.rglob(f"*{EVENT_FILE_MARK}*") if path.is_file())


def _scalar_events(acc) -> list[tuple[str, float, int, float]]:
    """Scalars written by torch's SummaryWriter plus scalar tensors written by tf.summary / tensorboard.summary."""
    out = []
    tags = acc.Tags()
    for tag in tags.get("scalars", []):
        out += [(tag, ev.wall_time, int(ev.step), float(ev.value)) for ev in acc.Scalars(tag)]
    for tag in tags.get("tensors", []):
        for ev in acc.Tensors(tag):
            value = _tensor_scalar(ev.tensor_proto)
            if value is not None:
                out.append((tag, ev.wall_time, int(ev.step), value))
    return [item for item in out if math.isfinite(item[3])]


def _tensor_scalar(proto) -> float | None:
    from tensorboard.util import tensor_util

    try:
        array = tensor_util.make_ndarray(proto)
        return float(array) if array.size == 1 and array.dtype.kind in "biuf" else None
    except Exception:  # noqa: BLE001 - strings, images, ... are not scalars
        return None


def validation_panel(scalars: dict[str, Series]) -> Panel:
    """verl's val-core/* metrics plus accuracy-like val-aux/* (and val-wethink/*) series, whatever the run logged."""
    tags = [
        tag for tag in scalars
        if tag.startswith("val-core/") or (tag.startswith(("val-aux/", "val-wethink/")) and "acc" in tag)
    ]  # fmt: skip
    return Panel("Validation", tuple(Line(tag, tag.removeprefix("val-")) for tag in tags), shares=True)


def reasons_panel(scalars: dict[str, Series]) -> Panel:
    """Failure reasons that ever occurred (SCORED is the complement and only squeezes the scale)."""
    tags = [
        tag for tag, points in scalars.items()
        if tag.startswith("wethink/reason/") and not tag.endswith("/SCORED") and any(v > 0 for _, v in points)
    ]  # fmt: skip
    return Panel("Failure reasons (share of samples)", tuple(Line(t, t.rsplit("/", 1)[1]) for t in tags), shares=True)


def render(scalars: dict[str, Series], out: Path, title: str) -> None:
    """Draw the six panels into `out` with matplotlib's Agg canvas (no display, no pyplot global state)."""
    from matplotlib.figure import Figure

    panels = [*FIXED_PANELS, validation_panel(scalars), reasons_panel(scalars)]
    steps = [step for points in scalars.values() for step, _ in points]
    first, last = min(steps), max(steps)
    pad = max(0.5, 0.02 * (last - first))
    fig = Figure(figsize=(15, 12), layout="constrained")
    axes = fig.subplots(3, 2, sharex=True).ravel()
    for ax, panel in zip(axes, panels):
        _draw_panel(ax, panel, scalars)
        ax.tick_params(labelbottom=True)  # every panel keeps its step labels
    axes[0].set_xlim(first - pad, last + pad)  # shared: validation every N steps lines up with training
    fig.suptitle(f"{title}\nsteps {first}-{last}", fontsize=13)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)


def _draw_panel(ax, panel: Panel, scalars: dict[str, Series]) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_title(panel.title, fontsize=11, loc="left", fontweight="bold")
    ax.set_xlabel("training step")
    ax.set_ylabel(panel.ylabel)
    ax.grid(True, alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    drawn = _plot_lines(ax, panel.lines, scalars)
    if panel.shares and all(0.0 <= v <= 1.0 for tag in drawn for _, v in scalars[tag]):
        ax.set_ylim(*SHARE_YLIM)
    handles, labels = ax.get_legend_handles_labels()
    if panel.twin:
        twin = ax.twinx()
        twin_drawn = _plot_lines(twin, panel.twin, scalars, color="tab:gray", linestyle="--")
        drawn += twin_drawn
        twin.set_ylabel(panel.twin_ylabel)
        top = max((v for tag in twin_drawn for _, v in scalars[tag]), default=0.0)
        twin.set_ylim(0, top * 1.1 if top > 0 else 1)
        twin.yaxis.set_major_locator(MaxNLocator(integer=True))
        more_handles, more_labels = twin.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    missing = [line.tag for line in (*panel.lines, *panel.twin) if line.tag not in drawn]
    if handles and panel.twin:  # below the axes: "best" cannot see the twin axis's lines
        ax.legend(handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=len(handles))
    elif handles:
        ax.legend(handles, labels, fontsize=8, loc="best", ncol=2 if len(handles) > 6 else 1)
    if not drawn:
        note = "no data logged:\n" + "\n".join(missing) if missing else _empty_note(panel, scalars)
        ax.text(0.5, 0.5, note, ha="center", va="center", transform=ax.transAxes, color="gray", fontsize=10)
    elif missing:
        ax.set_title("not logged: " + ", ".join(missing), loc="right", fontsize=8, color="gray")


def _plot_lines(ax, lines: Sequence[Line], scalars: dict[str, Series], **style) -> list[str]:
    drawn = []
    for line in lines:
        points = scalars.get(line.tag)
        if not points:
            continue
        steps, values = zip(*points)
        marker = "o" if len(points) <= 200 else None  # markers keep a 2-step run visible, clutter a long one
        size = 4 if len(points) <= 30 else 2.5
        ax.plot(steps, values, marker=marker, markersize=size, linewidth=1.5, label=line.label, **style)
        drawn.append(line.tag)
    return drawn


def _empty_note(panel: Panel, scalars: dict[str, Series]) -> str:
    if panel.title == "Validation":
        return "no validation series logged\n(val-core/*, val-aux/*acc*)"
    if any(tag.startswith("wethink/reason/") for tag in scalars):
        return "no failures: every sample SCORED"
    return "no data logged:\nwethink/reason/*"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recipes.wethink.plot_run", description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="a tensorboard log directory (searched recursively for event files)")
    parser.add_argument("--out", help="output PNG (default: DIR/run.png)")
    args = parser.parse_args(argv)
    root = Path(args.dir)
    if not event_files(root):
        print(f"error: no tensorboard event files (*{EVENT_FILE_MARK}*) under {root}", file=sys.stderr)
        return 2
    scalars = load_scalars(root)
    if not scalars:
        print(f"error: the event files under {root} hold no scalar series", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else root / "run.png"
    render(scalars, out, str(root.resolve()))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
