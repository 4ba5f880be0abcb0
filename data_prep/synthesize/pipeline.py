"""The pipeline: every image through caption -> refine -> questions -> verify -> cot -> rows, concurrently.

`--concurrency` workers each take the next unfinished image (sorted order); calls to each server are bounded
by its request slots (`models.py`). A finished image is committed (rows, rejects, then its done record); an image
whose endpoint failed after retries is logged and left undone, so the next run retries it. After too many
such failures (`max_failures`) the run stops taking new images rather than burn through the collection.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from tqdm import tqdm

from . import images as image_files
from .caption import caption
from .config import SynthesisConfig
from .cot import refine_cot
from .models import EndpointError, ImageCalls, Models
from .questions import Question, generate
from .refine import refine
from .replies import Rejected
from .rows import build_row
from .store import RunStore, StageCache, run_paths
from .summary import build_summary
from .templates import Prompts
from .verify import verify


@dataclass
class ImageResult:
    image: str
    rows: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    def reject(self, why: Rejected, **extra: object) -> None:
        self.counts[f"{why.stage}.rejected"] += 1
        self.rejects.append(why.record(self.image, **extra))


class Pipeline:
    def __init__(self, config: SynthesisConfig, models: Models, prompts: Prompts):
        self.config, self.models, self.prompts = config, models, prompts

    async def _question_row(
        self, result: ImageResult, calls: ImageCalls, description: str, question: Question
    ) -> dict | None:
        try:
            verified = await verify(calls, self.prompts, description, question, result.counts)
            cot = await refine_cot(calls, self.prompts, description, question, verified, result.counts)
        except Rejected as why:
            result.reject(why, question=question.index, problem=question.problem)
            return None
        return build_row(question, verified, cot, result.image)

    async def process(self, rel_path: str) -> ImageResult:
        """All stages for one image. Raises EndpointError; every other problem is a reject in the result."""
        result = ImageResult(rel_path)
        result.counts["image.in"] += 1
        try:
            image = await asyncio.to_thread(image_files.load, self.config.images, rel_path, self.config.max_pixels)
        except image_files.BadImage as bad:
            result.reject(Rejected("image", "bad_image", str(bad)))
            return result
        result.counts["image.out"] += 1
        calls = self.models.about(image)
        try:
            description = await caption(calls, self.prompts, result.counts)
            description = await refine(calls, self.prompts, description, self.config.refine_turns, result.counts)
            questions, invalid = await generate(
                calls, self.prompts, description, self.config.questions_per_image, result.counts
            )
        except Rejected as why:
            result.reject(why)
            return result
        for index, why in invalid:
            result.rejects.append(why.record(rel_path, question=index))
        outcomes = await asyncio.gather(
            *(self._question_row(result, calls, description, q) for q in questions), return_exceptions=True
        )
        for outcome in outcomes:  # all calls are bounded, so waiting for the siblings of a failure is bounded too
            if isinstance(outcome, BaseException):
                raise outcome
        result.rows = [row for row in outcomes if row is not None]  # gather keeps the generator's order
        result.rejects.sort(key=lambda r: r.get("question", -1))  # questions finish in any order
        result.counts["rows"] += len(result.rows)
        return result


async def run(config: SynthesisConfig) -> dict:
    """Synthesize rows for every unfinished image under `config.images`; returns the summary (also written)."""
    started = time.monotonic()
    prompts = Prompts(config.prompts_dir)
    store = RunStore(config.out)
    done_before = dict(store.open_run())
    found = image_files.discover(config.images)
    todo = [rel for rel in found if rel not in done_before]
    if config.limit is not None:
        todo = todo[: config.limit]
    cache_dir = config.cache_dir or run_paths(config.out)["cache"]
    models = Models(
        endpoints=config.endpoints,
        cache=StageCache(cache_dir if config.use_cache else None),
        endpoint_concurrency=config.endpoint_concurrency or config.concurrency,
        params=dict(config.params),
    )
    pipeline = Pipeline(config, models, prompts)
    tally = Counter()
    failures: list[str] = []
    pending = iter(todo)
    bar = tqdm(total=len(todo), unit="img", desc="synthesize", disable=not config.progress, dynamic_ncols=True)

    async def worker() -> None:
        while not (config.max_failures and len(failures) >= config.max_failures):
            rel_path = next(pending, None)  # one shared iterator: each image goes to exactly one worker
            if rel_path is None:
                return
            tally["processed"] += 1
            try:
                result = await pipeline.process(rel_path)
            except EndpointError as error:
                failures.append(rel_path)
                store.record_failure([error.record(rel_path)])
                tally["failed"] += 1
            else:
                store.commit(
                    rel_path,
                    result.rows,
                    result.rejects,
                    {"rows": len(result.rows), "rejects": len(result.rejects), "counts": dict(result.counts)},
                )
                tally.update(
                    {
                        k: v
                        for k, v in result.counts.items()
                        if k.endswith((".out", ".valid", ".agreed", ".arbiter_settled"))
                    }
                )
                tally["rows"] += len(result.rows)
                tally["rejected"] += len(result.rejects)
            bar.update(1)
            bar.set_postfix(  # a dict keeps the stage order (keyword arguments would be sorted)
                {
                    "captioned": tally["caption.out"],
                    "questions": tally["questions.valid"],
                    "verified": tally["verify.agreed"] + tally["verify.arbiter_settled"],
                    "rows": tally["rows"],
                    "rejected": tally["rejected"],
                    "failed": tally["failed"],
                },
                refresh=False,
            )

    try:
        await asyncio.gather(*(worker() for _ in range(min(config.concurrency, max(1, len(todo))))))
    finally:
        bar.close()
        await models.aclose()
    stopped = (
        f"stopped after {len(failures)} images failed on endpoint errors (--max-failures {config.max_failures})"
        if config.max_failures and len(failures) >= config.max_failures
        else None
    )
    summary = build_summary(
        config=config,
        store=store,
        found=found,
        done_before=len(done_before),
        processed=tally["processed"],
        failures=failures,
        models=models,
        stopped=stopped,
        elapsed=time.monotonic() - started,
    )
    store.finalize({rel: i for i, rel in enumerate(found)}, summary)
    return summary


def synthesize(config: SynthesisConfig) -> dict:
    """Blocking entry point (the CLI and scripts): runs the pipeline in a fresh event loop."""
    return asyncio.run(run(config))
