"""What one synthesis run is told: the images, the output, the endpoints of each role and how hard to push them.

`pipeline` runs a config and `summary` reports it; neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rewards.chat_client import ChatEndpoint

@dataclass
class SynthesisConfig:
    images: Path
    out: Path
    endpoints: dict[str, ChatEndpoint]  # roles: vlm, reasoner (required), judge, arbiter (optional)
    refine_turns: int = 2
    questions_per_image: int = 3
    concurrency: int = 8  # images in flight
    endpoint_concurrency: int | None = None  # requests in flight per server; default: `concurrency`
    params: dict = field(default_factory=lambda: {"temperature": 0.0, "seed": 0})
    prompts_dir: Path | None = None
    cache_dir: Path | None = None  # default: FILE.cache next to the output
    use_cache: bool = True
    max_pixels: int = 0  # 0: send images as they are
    limit: int | None = None  # at most this many new images this run
    max_failures: int = 20  # stop after this many images failed on endpoint errors (0: never stop)
    progress: bool = True

    def __post_init__(self) -> None:
        self.endpoints = dict(self.endpoints)  # the judge default below must not change the caller's dict
        missing = [role for role in ("vlm", "reasoner") if role not in self.endpoints]
        if missing:
            raise ValueError(f"endpoints for {missing} are required")
        self.endpoints.setdefault("judge", self.endpoints["reasoner"])
        if self.concurrency < 1 or self.questions_per_image < 1 or self.refine_turns < 0:
            raise ValueError("concurrency and questions_per_image must be >= 1, refine_turns >= 0")

