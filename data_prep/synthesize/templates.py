"""Prompt templates: editable text files with `$name` placeholders (string.Template, so JSON braces need no escaping).

Defaults ship in `prompts/`; `--prompts-dir` overrides any subset by file name. Every template is checked at
start-up against the placeholders the pipeline fills, so a typo in an edited prompt fails before the first call.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

DEFAULT_DIR = Path(__file__).with_name("prompts")

# template name -> the placeholders the pipeline fills in it
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "caption": frozenset(),
    "refine_ask": frozenset({"description", "notes", "max_asks"}),
    "refine_answer": frozenset({"asks"}),
    "describe": frozenset({"description", "notes"}),
    "questions": frozenset({"description", "count"}),
    "answer_text": frozenset({"description", "problem", "answer_format"}),
    "answer_image": frozenset({"problem", "answer_format"}),
    "arbiter": frozenset({"description", "problem", "answer_format"}),
    "cot": frozenset({"problem", "description", "trace", "answer"}),
    "format_multiple_choice": frozenset(),
    "format_fill_in_blank": frozenset(),
    "format_descriptive": frozenset(),
}


class PromptError(ValueError):
    """A template file that is missing or does not fit the placeholders the pipeline fills."""


class Prompts:
    """The loaded, checked templates. `render(name, **values)` fills one."""

    def __init__(self, override_dir: Path | None = None):
        self.sources: dict[str, Path] = {}
        self._templates: dict[str, Template] = {}
        if override_dir is not None:
            if not override_dir.is_dir():
                raise PromptError(f"--prompts-dir {override_dir}: not a directory")
            unknown = sorted(p.name for p in override_dir.glob("*.txt") if p.stem not in PLACEHOLDERS)
            if unknown:  # a misspelt file name would otherwise be ignored silently
                raise PromptError(
                    f"--prompts-dir {override_dir}: unknown template(s) {unknown}; known: {sorted(PLACEHOLDERS)}"
                )
        for name, expected in PLACEHOLDERS.items():
            path = DEFAULT_DIR / f"{name}.txt"
            if override_dir is not None and (override_dir / f"{name}.txt").is_file():
                path = override_dir / f"{name}.txt"
            if not path.is_file():
                raise PromptError(f"prompt template {path} is missing")
            template = Template(path.read_text(encoding="utf-8").strip())
            if not template.is_valid():
                raise PromptError(f"{path}: invalid placeholder syntax (write a literal $ as $$)")
            found = set(template.get_identifiers())
            if found != expected:
                missing, unknown = sorted(expected - found), sorted(found - expected)
                raise PromptError(
                    f"{path}: placeholders must be {sorted(expected)}; missing {missing}, unknown {unknown}"
                )
            self.sources[name], self._templates[name] = path, template

    def render(self, name: str, **values: object) -> str:
        return self._templates[name].substitute({k: str(v) for k, v in values.items()})
