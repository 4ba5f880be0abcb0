"""Marks that change what a short answer means, which text normalisation drops with the punctuation.

`C++` is not `C`, `C#` is not `C`, `A=1` is not `A-1`, `A'` is not `A`, `x''` is not `x'`, `3.5` is not `35`,
`1/2` is not `12`, `10-15` is not `1015`. Two texts that normalise alike still differ when their marks differ.
A mark is a symbol of `+ # = < > ^` (`#` only after a character: `#1` is a number sign), a prime on a label
(a letter, maybe with digits, not inside a word: `A'`, `B1''`, `A^{\\prime}`, `A′`; not `men's`, `I'm`,
`students'`), or a separator between two digits (`. , : / -`; a comma before a group of three is a thousands
separator and no mark).
"""

from __future__ import annotations

import re
import unicodedata

# `\prime` and the Unicode primes as apostrophes: `A^{\prime\prime}`, `A''`, `A″` (NFKC: two U+2032) all meet.
_LATEX_PRIME = re.compile(r"\^\s*\{((?:\s*\\prime)+)\s*\}|\^\s*\\prime|\\prime")
_PRIME_CHARS = str.maketrans({"\u2032": "'", "\u2033": "''", "\u2034": "'''", "\u2019": "'"})
_SYMBOL = re.compile(r"[+=<>^]|(?<=\w)#")
# A label's primes: not after a letter (inside a word), nor before a lowercase letter ("I'm", "A's").
_PRIMED_LABEL = re.compile(r"(?<![A-Za-z])[A-Za-z]\d*('+)(?!['a-z])")
_DIGIT_SEPARATOR = re.compile(r"(?<=\d)(?:[.:/\-]|,(?!\d{3}(?!\d)))(?=\d)")


def _unprimed(match: re.Match) -> str:
    return "'" * match.group().count("\\prime")


def canonical_primes(text: str) -> str:
    """`A^{\\prime}`, `A\u2032`, `A\u2019` as `A'`; `A\u2033` as `A''`."""
    return _LATEX_PRIME.sub(_unprimed, text.translate(_PRIME_CHARS))


def meaning_marks(text: str) -> tuple[str, ...]:
    """The marks of `text` that normalisation drops but meaning keeps, in order of appearance."""
    text = canonical_primes(unicodedata.normalize("NFKC", text))
    found = [(m.start(), m.group()) for m in _SYMBOL.finditer(text)]
    found += [(m.start(1), m.group(1)) for m in _PRIMED_LABEL.finditer(text)]
    found += [(m.start(), m.group()) for m in _DIGIT_SEPARATOR.finditer(text)]
    return tuple(mark for _, mark in sorted(found))


def label_primes(text: str) -> tuple[str, ...]:
    """Only the primes on labels (`A'`, `x''`): the marks a math comparison can drop."""
    return tuple(m.group(1) for m in _PRIMED_LABEL.finditer(canonical_primes(text)))
