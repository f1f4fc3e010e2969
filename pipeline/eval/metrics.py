"""Retrieval quality of one run: where each question's answer ranked, recall@k and MRR@10.

Recall@k here is the share of questions with at least one answering chunk in the top k (a
question counts once however many of its chunks were found), the usual reading for
retrieval-augmented generation, where one good chunk is enough to answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pipeline.eval.matching import Retrieved, answers
from pipeline.eval.questions import Question

__all__ = [
    "DEPTH",
    "NO_BOOK",
    "RECALL_KS",
    "EvalResult",
    "QuestionResult",
    "Scores",
    "Search",
    "evaluate",
    "first_answer_rank",
    "score",
    "score_questions",
    "search_depth",
]

RECALL_KS = (1, 5, 10)
# The cut-off of MRR, and the least number of chunks each search returns.
DEPTH = 10
# The per-book label of questions that name no book.
NO_BOOK = "(no book)"

Search = Callable[[str, int], Sequence[Retrieved]]


@dataclass(frozen=True)
class QuestionResult:
    """Where one question's first answering chunk ranked (1-based), or None if not in the top."""

    question_id: str
    book: str
    rank: int | None

    def found_within(self, k: int) -> bool:
        """Whether an answering chunk was among the first ``k`` retrieved."""
        return self.rank is not None and self.rank <= k

    def as_dict(self) -> dict[str, object]:
        return {"id": self.question_id, "book": self.book, "rank": self.rank}


@dataclass(frozen=True)
class Scores:
    """Recall@k for each k and MRR@DEPTH over a group of questions."""

    questions: int
    recall: dict[int, float]
    mrr: float

    def as_dict(self) -> dict[str, object]:
        return {
            "questions": self.questions,
            **{f"recall@{k}": value for k, value in self.recall.items()},
            f"mrr@{DEPTH}": self.mrr,
        }


@dataclass(frozen=True)
class EvalResult:
    """A whole run: scores overall and per book, and each question's rank."""

    overall: Scores
    per_book: dict[str, Scores]
    questions: list[QuestionResult]

    def as_dict(self) -> dict[str, object]:
        return {
            "overall": self.overall.as_dict(),
            "per_book": {book: scores.as_dict() for book, scores in self.per_book.items()},
            "questions": [result.as_dict() for result in self.questions],
        }


def first_answer_rank(question: Question, retrieved: Sequence[Retrieved]) -> int | None:
    """The 1-based rank of the first chunk that answers ``question``, or None."""
    for rank, chunk in enumerate(retrieved, start=1):
        if answers(question, chunk):
            return rank
    return None


def score(results: Sequence[QuestionResult], ks: Iterable[int] = RECALL_KS) -> Scores:
    """Recall@k and MRR@DEPTH of a group of question results."""
    count = len(results)
    if count == 0:
        return Scores(questions=0, recall={k: 0.0 for k in ks}, mrr=0.0)
    recall = {k: sum(result.found_within(k) for result in results) / count for k in ks}
    reciprocal = (
        1 / result.rank for result in results if result.rank is not None and result.rank <= DEPTH
    )
    return Scores(questions=count, recall=recall, mrr=sum(reciprocal) / count)


def score_questions(
    results: Sequence[QuestionResult], ks: Sequence[int] = RECALL_KS
) -> EvalResult:
    """Scores overall and per book (books in order of first appearance)."""
    by_book: dict[str, list[QuestionResult]] = {}
    for result in results:
        by_book.setdefault(result.book, []).append(result)
    return EvalResult(
        overall=score(results, ks),
        per_book={book: score(group, ks) for book, group in by_book.items()},
        questions=list(results),
    )


def search_depth(ks: Sequence[int] = RECALL_KS) -> int:
    """How many chunks each search returns: enough for the largest k and for MRR@DEPTH."""
    return max(DEPTH, *ks)


def evaluate(
    questions: Sequence[Question], search: Search, ks: Sequence[int] = RECALL_KS
) -> EvalResult:
    """Ask ``search(question_text, depth)`` every question and score recall@k for ``ks``."""
    depth = search_depth(ks)
    results = []
    for question in questions:
        retrieved = list(search(question.question, depth))[:depth]
        results.append(
            QuestionResult(
                question_id=question.id,
                book=question.book or NO_BOOK,
                rank=first_answer_rank(question, retrieved),
            )
        )
    return score_questions(results, ks)
