"""Dataset statistics for a prepared WeThink set: `stats.json` plus a one-page chart (`stats.png`).

Counters only (no per-row lists), so collecting stays flat in memory over 120K rows. Visual tokens per
image (the Qwen2-VL resize rule under the chosen pixel bounds) and whole-prompt tokens come from
`data_prep.prompt_length`: they, not the raw megapixels, decide whether prompts fit `max_prompt_length`.
"""

from __future__ import annotations

import json
import math
from collections import Counter

from data_prep.images import ImageInfo, source_folder
from data_prep.prompt_length import PATCH, PromptLength, visual_tokens
from data_prep.rows import WeThinkRow


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
    def __init__(
        self, min_pixels: int, max_pixels: int, max_prompt_tokens: int | None = None, text_counted: bool = False
    ):
        self.min_pixels, self.max_pixels = min_pixels, max_pixels
        self.max_prompt_tokens, self.text_counted = max_prompt_tokens, text_counted
        self.prompt_tokens: Counter[int] = Counter()
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

    def add_row(self, row: WeThinkRow, images: tuple[ImageInfo, ...], prompt: PromptLength | None = None) -> None:
        self.category[row.category] += 1
        self.reward_method[row.reward_method] += 1
        self.ability.update(row.abilities or ("(none)",))
        self.images_per_row[len(images)] += 1
        self.answer_chars[len(row.answer)] += 1
        if prompt is None:
            sizes = [(info.width, info.height) for info in images]
            prompt = PromptLength(None, tuple(visual_tokens(w, h, self.min_pixels, self.max_pixels) for w, h in sizes))
        self.prompt_tokens[prompt.total] += 1
        for info, tokens in zip(images, prompt.visual, strict=True):
            self.image_source[source_folder(info.rel_path)] += 1
            self.image_kpixels[round(info.width * info.height / 1000)] += 1
            self.visual_tokens[tokens] += 1

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
            "prompt_tokens": {
                **_summary(self.prompt_tokens),
                "text_counted": self.text_counted,  # False: visual tokens only (no --tokenizer)
                "max_prompt_tokens": self.max_prompt_tokens,
                "hist_log2": _hist(self.prompt_tokens, _log2_bucket),
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


def _log2_hist(ax, hist: dict, title: str, xlabel: str, color: str, note: str | None = None) -> None:
    edges = [int(k) for k in hist]
    ax.bar(range(len(edges)), list(hist.values()), color=color)
    ax.set_xticks(range(len(edges)), [f"{e}-{2 * e - 1}" if e > 1 else str(e) for e in edges], rotation=45, fontsize=7)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    if note is not None:
        ax.text(0.98, 0.95, note, ha="right", va="top", transform=ax.transAxes, fontsize=8)


def plot_stats(stats: dict, png_path: str) -> None:
    """Seven titled panels: categories by split, reward methods and rejects, abilities, image sources,
    answer lengths, visual tokens per image, prompt tokens per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(24, 10))
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
        note=f"max_pixels = {vt['max_pixels'] // (PATCH * PATCH)} tokens",
    )
    pt = stats["prompt_tokens"]
    _log2_hist(
        axes[0][3],
        pt["hist_log2"],
        "Prompt tokens per row" + ("" if pt["text_counted"] else " (visual only)"),
        "tokens (log2 bins)",
        "tab:olive",
        note=f"limit {pt['max_prompt_tokens'] or 'none'}; over it: {stats['rejects'].get('prompt_too_long', 0)} rows",
    )
    axes[1][3].axis("off")
    fig.suptitle("WeThink data preparation")
    fig.tight_layout()
    fig.savefig(png_path, dpi=80)
    plt.close(fig)
