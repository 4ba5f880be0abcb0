"""The run summary: kept / rejected per stage over the whole output (all runs so far), plus this run's calls.

Stage counts come from the done records, reject reasons from the rejects file, so a resumed run reports the
same totals as an uninterrupted one.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import SynthesisConfig
    from .models import Models
    from .store import RunStore

STAGES = ("image", "caption", "refine", "questions", "verify", "cot")


def _nest(counts: Counter) -> dict[str, dict[str, int]]:
    nested: dict[str, dict[str, int]] = defaultdict(dict)
    for key, value in sorted(counts.items()):
        stage, _, metric = key.partition(".")
        if metric:
            nested[stage][metric] = value
    order = [s for s in STAGES if s in nested] + sorted(s for s in nested if s not in STAGES)
    return {stage: nested[stage] for stage in order}


def _reject_kinds(path: Path) -> dict[str, dict[str, int]]:
    kinds: dict[str, Counter] = defaultdict(Counter)
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            kinds[record.get("stage", "?")][record.get("kind", "?")] += 1
    return {stage: dict(sorted(c.items())) for stage, c in sorted(kinds.items())}


def _endpoint_info(config: SynthesisConfig) -> dict[str, dict]:
    """Where each role went: URL, model and the NAME of the key variable, never its value."""
    return {
        role: {
            "url": e.base_url,
            "model": e.model,
            "api_key_env": e.api_key_env,
            "timeout": e.timeout,
            "retries": e.retries,
        }
        for role, e in sorted(config.endpoints.items())
    }


def build_summary(
    *,
    config: SynthesisConfig,
    store: RunStore,
    found: list[str],
    done_before: int,
    processed: int,
    failures: list[str],
    models: Models,
    stopped: str | None,
    elapsed: float,
) -> dict:
    totals: Counter = Counter()
    rows = 0
    for record in store.done.values():
        totals.update(record.get("counts", {}))
        rows += record.get("rows", 0)
    found_set = set(found)
    return {
        "images": {
            "found": len(found),
            "done": sum(1 for image in store.done if image in found_set),
            "done_before_this_run": done_before,
            "processed_this_run": processed,
            "failed_this_run": len(failures),
            "left": sum(1 for image in found if image not in store.done),
        },
        "rows": rows,
        "stages": _nest(totals),
        "rejects": _reject_kinds(store.paths["rejects"]),
        "this_run": {
            "calls": dict(sorted(models.calls.items())),  # every request sent, retries included
            "retries": dict(sorted(models.retries.items())),
            "attempt_errors": dict(models.attempt_errors.most_common()),
            "cache_hits": dict(sorted(models.cache_hits.items())),
            "elapsed_s": round(elapsed, 3),
            "stopped": stopped,
            "failed_images": failures[:50],
        },
        "config": {
            "images": str(config.images),
            "out": str(config.out),
            "endpoints": _endpoint_info(config),
            "refine_turns": config.refine_turns,
            "questions_per_image": config.questions_per_image,
            "concurrency": config.concurrency,
            "endpoint_concurrency": models.endpoint_concurrency,
            "params": config.params,
            "prompts_dir": str(config.prompts_dir) if config.prompts_dir else None,
            "max_pixels": config.max_pixels,
        },
    }


def format_summary(summary: dict) -> str:
    """A few lines a person reads at the end of a run."""
    images = summary["images"]
    lines = [
        f"images: {images['done']}/{images['found']} done ({images['processed_this_run']} this run, "
        f"{images['failed_this_run']} failed on endpoint errors, {images['left']} left)",
        f"rows: {summary['rows']}",
    ]
    for stage, counts in summary["stages"].items():
        lines.append(f"  {stage:<10} " + "  ".join(f"{k}={v}" for k, v in counts.items()))
    for stage, kinds in summary["rejects"].items():
        lines.append(f"  rejected at {stage}: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    run = summary["this_run"]
    lines.append(
        f"calls sent: {sum(run['calls'].values())} (retries included: {sum(run['retries'].values())}), "
        f"cache hits: {sum(run['cache_hits'].values())}, {run['elapsed_s']:.1f}s"
    )
    if run["attempt_errors"]:
        lines.append("  failed attempts: " + ", ".join(f"{k} {v}" for k, v in run["attempt_errors"].items()))
    if run["stopped"]:
        lines.append(f"STOPPED: {run['stopped']}")
    return "\n".join(lines)
