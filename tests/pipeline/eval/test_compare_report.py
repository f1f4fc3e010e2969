"""Paired comparison of two runs and the plain-text tables."""

from __future__ import annotations

import pytest

from pipeline.eval.compare import compare
from pipeline.eval.metrics import EvalResult, QuestionResult, score_questions
from pipeline.eval.report import render_comparison, render_result


def run(ranks: dict[str, int | None], book: str = "84") -> EvalResult:
    return score_questions(
        [QuestionResult(question_id=qid, book=book, rank=rank) for qid, rank in ranks.items()]
    )


def test_paired_counts_split_questions_by_which_run_found_them() -> None:
    a = run({"q1": 1, "q2": 4, "q3": 8, "q4": None, "q5": 2})
    b = run({"q1": 2, "q2": 9, "q3": 3, "q4": None, "q5": None})
    top5, top10 = compare(a, b).paired
    assert (top5.k, top5.a_only, top5.b_only, top5.both, top5.neither) == (
        5,
        ["q2", "q5"],
        ["q3"],
        1,
        1,
    )
    assert (top10.a_only, top10.b_only, top10.both, top10.neither) == (["q5"], [], 3, 1)


def test_runs_over_different_questions_cannot_be_compared() -> None:
    with pytest.raises(ValueError, match=r"different questions \(2 not in both, first 'q2'\)"):
        compare(run({"q1": 1, "q2": 1}), run({"q1": 1, "q3": 1}))


def test_comparison_as_dict_carries_counts_and_the_ids_found_by_one_run_only() -> None:
    data = compare(run({"q1": 1, "q2": None}), run({"q1": None, "q2": None})).as_dict()
    assert data["paired"][0] == {  # type: ignore[index]
        "k": 5,
        "a_only": 1,
        "b_only": 0,
        "both": 0,
        "neither": 1,
        "a_only_ids": ["q1"],
        "b_only_ids": [],
    }


def test_result_table_has_overall_and_per_book_rows_with_titles() -> None:
    result = score_questions(
        [
            QuestionResult(question_id="q1", book="84", rank=3),
            QuestionResult(question_id="q2", book="11", rank=None),
        ]
    )
    lines = render_result(result, titles={"84": "Frankenstein"}).splitlines()
    assert lines[0].split() == ["book", "questions", "recall@1", "recall@5", "recall@10", "mrr@10"]
    assert lines[2].split() == ["all", "2", "0.000", "0.500", "0.500", "0.167"]
    assert lines[3].split() == ["84", "Frankenstein", "1", "0.000", "1.000", "1.000", "0.333"]
    assert lines[4].split() == ["11", "1", "0.000", "0.000", "0.000", "0.000"]


def test_comparison_table_names_both_runs() -> None:
    text = render_comparison(
        compare(run({"q1": 1, "q2": 6}), run({"q1": 1, "q2": 2})), "fp32", "int8"
    )
    assert "fp32 only" in text and "int8 only" in text
    rows = [line.split() for line in text.splitlines()]
    assert ["5", "0", "1", "1", "0"] in rows
    assert ["10", "0", "0", "2", "0"] in rows
