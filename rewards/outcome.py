"""What a verifier or the judge decided for one answer: an accuracy and a numeric reason code.

verl logs every key of the reward dict as a number, so the reason a sample scored what it did travels as an
integer code (`Reason`), never as a string: `reason` means can be read back with `Reason(code).name`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Reason(IntEnum):
    """Why an answer got its accuracy. 0 means it was scored on its merits (right or wrong)."""

    SCORED = 0
    NO_ANSWER_BLOCK = 1  # no well-formed <answer>...</answer> in the response
    EMPTY_ANSWER = 2
    NO_REFERENCE = 3  # the row has no usable ground truth (empty, or longer than any answer); logged once
    MULTIPLE_OPTIONS = 4  # names several options ("A B C D", "A or C")
    MULTIPLE_VALUES = 5  # several different numbers / both yes and no
    COPIED_QUESTION = 6  # the answer repeats the question
    UNPARSEABLE = 7  # no number / option / yes-no found where one was required
    MATH_TIMEOUT = 8  # math-verify ran past its hard deadline (worker replaced)
    MATH_ERROR = 9
    JUDGE_NOT_CONFIGURED = 10  # model route without a judge URL / model name
    JUDGE_DOWN = 11  # request failed after retries, or the circuit breaker is open
    JUDGE_UNPARSEABLE = 12  # the judge replied with something other than exactly one tier
    INTERNAL_ERROR = 13  # a bug in this package; logged with a traceback, the sample scores 0
    CONFIG_ERROR = 14  # bad reward_kwargs; logged once
    JUDGE_REASONING_ONLY = 15  # a reasoning judge used judge_max_tokens thinking: empty content; logged once
    ANSWER_TOO_LONG = 16  # a rule-route answer block longer than any answer to a rule question (MAX_RULE_ANSWER_CHARS)


class Ambiguous:
    """Marker for a reading that names more than one value: several options, several numbers, both yes and no,
    or a hedge between them. One value for every verifier, so a caller tests `is AMBIGUOUS` whatever it parsed."""

    def __repr__(self) -> str:
        return "AMBIGUOUS"


AMBIGUOUS = Ambiguous()


@dataclass(frozen=True)
class Outcome:
    """Accuracy in [0, 1] plus diagnostics. Verifiers fill `acc`/`reason`; the judge also fills the rest."""

    acc: float
    reason: Reason = Reason.SCORED
    timeout: bool = False
    judged: bool = False  # a judge request went over the network for this sample
    judge_ok: bool = False  # a valid judge verdict (fresh or cached) decided acc
    cache_hit: bool = False  # the verdict came from the cache or a concurrent identical request

    @classmethod
    def zero(cls, reason: Reason, **kw: bool) -> "Outcome":
        return cls(0.0, reason, **kw)

    @classmethod
    def of(cls, correct: bool) -> "Outcome":
        return cls(1.0 if correct else 0.0)
