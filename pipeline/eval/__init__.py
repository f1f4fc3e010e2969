"""Retrieval quality: questions with known answers, run through any search, scored.

``evaluate(load_questions(path), search)`` asks every question of ``search(text, k)`` (any
function returning ranked ``Retrieved`` chunks) and returns recall@1/5/10 and MRR@10 overall and
per book; ``compare`` pairs two runs question by question. Nothing here talks to a store, so the
same code scores a Chroma collection, an in-memory index or a test's hand-made lists.
"""

from __future__ import annotations

from pipeline.eval.compare import Comparison, Paired, compare
from pipeline.eval.matching import Retrieved, answers, normalise
from pipeline.eval.metrics import EvalResult, QuestionResult, Scores, Search, evaluate
from pipeline.eval.questions import Question, QuestionsError, load_questions, parse_questions
from pipeline.eval.report import render_comparison, render_result

__all__ = [
    "Comparison",
    "EvalResult",
    "Paired",
    "Question",
    "QuestionResult",
    "QuestionsError",
    "Retrieved",
    "Scores",
    "Search",
    "answers",
    "compare",
    "evaluate",
    "load_questions",
    "normalise",
    "parse_questions",
    "render_comparison",
    "render_result",
]
