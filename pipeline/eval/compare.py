"""Comparing two runs question by question: which answers one found and the other missed.

Paired counts say more than two recall figures: two runs with equal recall@5 may still find
different questions, and a handful of questions found by one run only is what separates a
real difference from noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.eval.metrics import EvalResult

__all__ = ["COMPARE_KS", "Comparison", "Paired", "compare"]

COMPARE_KS = (5, 10)


@dataclass(frozen=True)
class Paired:
    """For one k: how many questions each run found in its top k, alone or together."""

    k: int
    a_only: list[str]
    b_only: list[str]
    both: int
    neither: int

    def as_dict(self) -> dict[str, object]:
        return {
            "k": self.k,
            "a_only": len(self.a_only),
            "b_only": len(self.b_only),
            "both": self.both,
            "neither": self.neither,
            "a_only_ids": self.a_only,
            "b_only_ids": self.b_only,
        }


@dataclass(frozen=True)
class Comparison:
    """Two runs over the same questions: their scores and paired counts per k."""

    a: EvalResult
    b: EvalResult
    paired: list[Paired]

    def as_dict(self) -> dict[str, object]:
        return {
            "a": self.a.overall.as_dict(),
            "b": self.b.overall.as_dict(),
            "paired": [counts.as_dict() for counts in self.paired],
        }


def compare(a: EvalResult, b: EvalResult, ks: Sequence[int] = COMPARE_KS) -> Comparison:
    """Pair two runs by question id (per k of ``ks``); raise ValueError when they asked
    different questions."""
    ranks_b = {result.question_id: result for result in b.questions}
    ids_a = [result.question_id for result in a.questions]
    if sorted(ids_a) != sorted(ranks_b):
        # Symmetric difference; empty only when one run repeats an id.
        missing = sorted(set(ids_a) ^ set(ranks_b)) or sorted(ids_a)
        raise ValueError(
            f"the two runs asked different questions ({len(missing)} not in both, first "
            f"{missing[0]!r}); evaluate both with the same questions file"
        )
    paired = []
    for k in ks:
        a_only: list[str] = []
        b_only: list[str] = []
        both = neither = 0
        for result in a.questions:
            in_a = result.found_within(k)
            in_b = ranks_b[result.question_id].found_within(k)
            if in_a and in_b:
                both += 1
            elif in_a:
                a_only.append(result.question_id)
            elif in_b:
                b_only.append(result.question_id)
            else:
                neither += 1
        paired.append(Paired(k=k, a_only=a_only, b_only=b_only, both=both, neither=neither))
    return Comparison(a=a, b=b, paired=paired)
