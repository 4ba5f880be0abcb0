"""Scalable multimodal QA synthesis (WeThink, arXiv 2506.07905, section 3): images in, WeThink-schema rows out.

Stages, one module each: caption -> refine (multi-turn) -> questions (ability constraints) -> verify (two
models agree, an optional arbiter settles) -> cot (concise reasoning path) -> rows. `store` keeps the run
resumable and the replies cached; `models` is the single door to the OpenAI-compatible endpoints.
"""

from .config import SynthesisConfig
from .pipeline import run, synthesize

__all__ = ["SynthesisConfig", "run", "synthesize"]
