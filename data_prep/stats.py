"""Dataset statistics for a prepared WeThink set: `stats.json` plus a one-page chart (`stats.png`).

Counters only (no per-row lists), so collecting stays flat in memory over 120K rows. Visual tokens per
image are computed with qwen_vl_utils' own resize rule under the chosen pixel bounds: they, not the raw
megapixels, decide whether prompts fit `max_prompt_length`.
"""

from __future__ import annotations

import json
import math
from collections import Counter

from data_prep.images import ImageInfo, source_folder
from data_prep.rows import WeThinkRow

PATCH = 28  # Qwen2.5-VL: 14-pixel patches merged 2x2 -> one visual token per 28x28 pixels


def visual_tokens(width: int, height: int, min_pixels: int, max_pixels: int) -> int:
    from qwen_vl_utils.vision_process import smart_resize

    h, w = smart_resize(height, width, factor=PATCH, min_pixels=min_pixels, max_pixels=max_pixels)
    return (h // PATCH) * (w // PATCH)


def _summary(counter: Counter) -> dict:
    """mean / p50 / p95 / max of a value -> count table."""
    n = sum(counter.values())
    if not n:
        return {"n": 0}
    items = sorted(counter.items())
    out = {"n": n, "mean": round(sum(v * c for v, c in items) / n, 2), "max": items[-1][0]}
    for name, q in (("p50", 0.5), ("p95", 0.95)):
        seen = 0
        for value, count in items:
            seen += count
            if seen >= q * n:
                out[name] = value
                break
    return out


def _log2_bucket(value: float) -> int:
    return 0 if value < 1 else 2 ** math.floor(math.log2(value))


class StatsCollector:
    def __init__(self, min_pixels: int, max_pixels: int):
        self.min_pixels, self.max_pixels = min_pixels, max_pixels
        self.category: Counter[str] = Counter()
        self.reward_method: Counter[str] = Counter()
        self.ability: Counter[str] = Counter()
        self.image_source: Counter[str] = Counter()
        self.images_per_row: Counter[int] = Counter()
        self.answer_chars: Counter[int] = Counter()
        self.image_kpixels: Counter[int] = Counter()  # original size, thousands of pixels
        self.visual_tokens: Counter[int] = Counter()
        self.split_category: dict[str, Counter[str]] = {"train": Counter(), "val": Counter()}
        self.rejects: Counter[str] = Counter()
        self.unknown_labels: dict[str, Counter[str]] = {"category": Counter(), "reward": Counter()}

    def add_row(self, row: WeThinkRow, images: tuple[ImageInfo, ...]) -> None:
        self.category[row.category] += 1
        self.reward_method[row.reward_method] += 1
        self.ability.update(row.abilities or ("(none)",))
        self.images_per_row[len(images)] += 1
        self.answer_chars[len(row.answer)] += 1
        for info in images:
            self.image_source[source_folder(info.rel_path)] += 1
            self.image_kpixels[round(info.width * info.height / 1000)] += 1
            self.visual_tokens[visual_tokens(info.width, info.height, self.min_pixels, self.max_pixels)] += 1

    def add_split(self, split: str, category: str) -> None:
        self.split_category[split][category] += 1

    def add_reject(self, reason: str, label: tuple[str, str] | None) -> None:
        self.rejects[reason] += 1
        if label:
            self.unknown_labels[label[0]][label[1]] += 1

    def to_dict(self) -> dict:
        def ranked(counter: Counter) -> dict:
            return dict(counter.most_common())

        return {
            "rows": sum(self.category.values()),
            "category": ranked(self.category),
            "split_category": {s: ranked(c) for s, c in self.split_category.items()},
            "reward_method": ranked(self.reward_method),
            "ability": ranked(self.ability),
            "image_source": ranked(self.image_source),
            "images_per_row": {str(k): v for k, v in sorted(self.images_per_row.items())},
            "answer_chars": {
                **_summary(self.answer_chars),
                "hist_log2": _hist(self.answer_chars, _log2_bucket),
            },
            "image_kilopixels": {
                **_summary(self.image_kpixels),
                "hist_log2": _hist(self.image_kpixels, _log2_bucket),
            },
            "visual_tokens_per_image": {
                **_summary(self.visual_tokens),
                "min_pixels": self.min_pixels,
                "max_pixels": self.max_pixels,
                "hist_log2": _hist(self.visual_tokens, _log2_bucket),
            },
            "rejects": ranked(self.rejects),
            "unknown_labels": {k: ranked(v) for k, v in self.unknown_labels.items() if v},
        }


def _hist(counter: Counter, bucket) -> dict[str, int]:
    """Counts per log2 bin, empty bins between the smallest and largest included so the axis stays honest."""
    out: Counter[int] = Counter()
    for value, count in counter.items():
        out[bucket(value)] += count
    if not out:
        return {}
    edges = [0] if 0 in out else []
    powers = [k for k in out if k]
    if powers:
        edge = min(powers)
        while edge <= max(powers):
            edges.append(edge)
            edge *= 2
    return {str(k): out.get(k, 0) for k in edges}


def write_stats(stats: dict, json_path: str, png_path: str) -> None:
    with open(json_path, "w", encoding="utf-8") as fh:
        json.dump(stats, fh, indent=2, ensure_ascii=False)
    plot_stats(stats, png_path)


def _barh(ax, counts: dict, title: str, xlabel: str, top: int = 15) -> None:
    items = list(counts.items())[:top][::-1]
    if not items:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    else:
        labels, values = zip(*items, strict=True)
        bars = ax.barh(range(len(values)), values, color="tab:blue")
        ax.set_yticks(range(len(values)), labels, fontsize=8)
        ax.bar_label(bars, fontsize=7, padding=2)
    ax.set_title(title)
    ax.set_xlabel(xlabel)


def _log2_hist(ax, hist: dict, title: str, xlabel: str, color: str, bound: int | None = None) -> None:
    edges = [int(k) for k in hist]
    ax.bar(range(len(edges)), list(hist.values()), color=color)
    ax.set_xticks(range(len(edges)), [f"{e}-{2 * e - 1}" if e > 1 else str(e) for e in edges], rotation=45, fontsize=7)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    if bound is not None:
        ax.text(0.98, 0.95, f"max_pixels = {bound} tokens", ha="right", va="top", transform=ax.transAxes, fontsize=8)


def plot_stats(stats: dict, png_path: str) -> None:
    """Six titled panels: categories by split, reward methods and rejects, abilities, image sources,
    answer lengths, visual tokens per image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(18, 10))
    ax = axes[0][0]
    cats = list(stats["category"])
    train = [stats["split_category"]["train"].get(c, 0) for c in cats]
    val = [stats["split_category"]["val"].get(c, 0) for c in cats]
    ax.bar(cats, train, label="train", color="tab:blue")
    ax.bar(cats, val, bottom=train, label="val", color="tab:orange")
    ax.set_title(f"Rows per category ({stats['rows']} accepted)")
    ax.set_ylabel("rows")
    ax.tick_params(axis="x", rotation=30, labelsize=8)
    ax.legend()

    ax = axes[0][1]
    labels = [f"reward: {k}" for k in stats["reward_method"]] + [f"reject: {k}" for k in stats["rejects"]]
    values = list(stats["reward_method"].values()) + list(stats["rejects"].values())
    colors = ["tab:green"] * len(stats["reward_method"]) + ["tab:red"] * len(stats["rejects"])
    bars = ax.barh(range(len(values)), values, color=colors)
    ax.set_yticks(range(len(values)), labels, fontsize=8)
    ax.bar_label(bars, fontsize=7, padding=2)
    ax.invert_yaxis()
    ax.set_title("Reward method (accepted) and reject reasons")
    ax.set_xlabel("rows")

    _barh(axes[0][2], stats["ability"], "Top abilities", "rows")
    _barh(axes[1][0], stats["image_source"], "Image source folder", "images")
    _log2_hist(axes[1][1], stats["answer_chars"]["hist_log2"], "Answer length", "characters (log2 bins)", "tab:purple")
    vt = stats["visual_tokens_per_image"]
    _log2_hist(
        axes[1][2],
        vt["hist_log2"],
        "Visual tokens per image after resize",
        "tokens (log2 bins)",
        "tab:cyan",
        bound=vt["max_pixels"] // (PATCH * PATCH),
    )
    fig.suptitle("WeThink data preparation")
    fig.tight_layout()
    fig.savefig(png_path, dpi=80)
    plt.close(fig)
