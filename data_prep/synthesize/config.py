"""What one synthesis run is told: the images, the output, the endpoints of each role and how hard to push them.

Every default of the synthesis CLI is a field default here (`wethink-synthesize --help` shows them from here), so
each is written once; `pipeline` runs a config and `summary` reports it, and neither imports the other's module
for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from rewards.chat_client import ChatEndpoint

DEFAULT_PARAMS = {"temperature": 0.0, "seed": 0}  # sampling parameters of every request (reproducible servers)
REQUEST_TIMEOUT = 120.0  # seconds per request attempt: a caption or a reasoning path is long (the judge's is 30 s)


@dataclass
class SynthesisConfig:
    images: Path
    out: Path
    endpoints: dict[str, ChatEndpoint]  # roles: vlm, reasoner (required), judge, arbiter (optional)
    refine_turns: int = 2
    questions_per_image: int = 3
    concurrency: int = 8  # images in flight
    endpoint_concurrency: int | None = None  # requests in flight per server; default: `concurrency`
    params: dict = field(default_factory=lambda: dict(DEFAULT_PARAMS))  # sent with every request
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


def default(name: str, of: type = SynthesisConfig) -> object:
    """The default of the dataclass field `name` (SynthesisConfig's, or ChatEndpoint's): the CLI's default."""
    [found] = [f for f in fields(of) if f.name == name]
    return found.default
