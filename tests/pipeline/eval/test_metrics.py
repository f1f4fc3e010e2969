"""Recall@k and MRR@10 from ranks, overall and per book, and evaluate() over a search function."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pipeline.eval.matching import Retrieved
from pipeline.eval.metrics import NO_BOOK, QuestionResult, evaluate, score, score_questions
from pipeline.eval.questions import Question


def result(rank: int | None, book: str = "84", question_id: str = "q") -> QuestionResult:
    return QuestionResult(question_id=question_id, book=book, rank=rank)


def test_answer_at_rank_three_counts_for_recall_at_five_and_ten_but_not_one() -> None:
    scores = score([result(3)])
    assert scores.recall == {1: 0.0, 5: 1.0, 10: 1.0}
    assert scores.mrr == pytest.approx(1 / 3)


def test_scores_average_over_questions_and_a_miss_counts_as_zero() -> None:
    scores = score([result(1), result(7), result(None)])
    assert scores.questions == 3
    assert scores.recall[1] == pytest.approx(1 / 3)
    assert scores.recall[5] == pytest.approx(1 / 3)
    assert scores.recall[10] == pytest.approx(2 / 3)
    assert scores.mrr == pytest.approx((1 + 1 / 7) / 3)


def test_rank_past_ten_adds_nothing_to_mrr_at_ten() -> None:
    scores = score([result(11)])
    assert scores.recall[10] == 0.0
    assert scores.mrr == 0.0


def test_no_questions_score_zero() -> None:
    assert score([]).mrr == 0.0


def test_per_book_scores_group_questions_by_book_in_order_of_appearance() -> None:
    run = score_questions([result(1, "11"), result(None, "84"), result(2, "11")])
    assert list(run.per_book) == ["11", "84"]
    assert run.per_book["11"].questions == 2
    assert run.per_book["11"].recall[1] == 0.5
    assert run.per_book["11"].mrr == pytest.approx(0.75)
    assert run.per_book["84"].recall[10] == 0.0
    assert run.overall.mrr == pytest.approx(0.5)


def test_as_dict_names_every_figure() -> None:
    run = score_questions([result(3, question_id="q9")])
    data = run.as_dict()
    assert data["overall"] == {
        "questions": 1,
        "recall@1": 0.0,
        "recall@5": 1.0,
        "recall@10": 1.0,
        "mrr@10": pytest.approx(1 / 3),
    }
    assert data["questions"] == [{"id": "q9", "book": "84", "rank": 3}]


def test_evaluate_asks_for_ten_chunks_and_ranks_the_first_that_answers() -> None:
    filler = [Retrieved(id=f"x{i}", text="nothing relevant", book_id="1") for i in range(12)]
    answer = Retrieved(id="a", text="the whale and the sturgeon are royal fish", book_id="2701")
    lists = {
        "fish of the crown?": [*filler[:3], answer, *filler[3:]],
        "beyond the tenth?": [*filler, answer],
    }
    asked: list[tuple[str, int]] = []

    def search(text: str, k: int) -> Sequence[Retrieved]:
        asked.append((text, k))
        return lists[text]

    questions = [
        Question(
            id="q1", question="fish of the crown?", answer="the whale and the sturgeon", book="2701"
        ),
        Question(id="q2", question="beyond the tenth?", answer="the whale and the sturgeon"),
    ]
    run = evaluate(questions, search)
    assert asked == [("fish of the crown?", 10), ("beyond the tenth?", 10)]
    assert [r.rank for r in run.questions] == [4, None]
    assert list(run.per_book) == ["2701", NO_BOOK]
