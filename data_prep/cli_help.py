"""The `--help` layout of the data CLIs: each option's default after its help, the epilog's paragraphs as written."""

from __future__ import annotations

import argparse


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Like ArgumentDefaultsHelpFormatter, minus the noise of `(default: None)` / `(default: False)`."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        hidden = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if not hidden and "%(default)" not in text:  # `is`: a default of 0 or 0.0 is shown
            text += " (default: %(default)s)"
        return text
