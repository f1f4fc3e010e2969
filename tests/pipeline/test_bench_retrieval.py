"""Retrieval quality per backend (pipeline/bench/retrieval.py): exact search, real embeddings of a
real book, paired counts and the bench report's table."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.bench.corpus import BenchCorpus
from pipeline.bench.report import BenchReport, markdown
from pipeline.bench.retrieval import (
    exact_search,
    measure_retrieval,
    retrieval_markdown,
    smallest_books,
)
from pipeline.eval import Question, Retrieved
from tasks.settings import Settings
from tests.support.shared import require_gutenberg_books

SMALLEST_BOOK = "11563"  # 99 chunks at the default chunk settings


def test_exact_search_ranks_by_dot_product() -> None:
    chunks = [Retrieved(id=str(i), text=f"chunk {i}", book_id="1") for i in range(4)]
    vectors = np.array([[1, 0], [0.6, 0.8], [0, 1], [-1, 0]], dtype=np.float32)
    search = exact_search(chunks, vectors, ["q"], np.array([[0.8, 0.6]], dtype=np.float32))
    assert [c.id for c in search("q", 3)] == ["1", "0", "2"]
    assert len(search("q", 10)) == 4


@pytest.fixture(scope="module")
def corpus() -> BenchCorpus:
    return BenchCorpus(require_gutenberg_books(), Settings.from_env({}))


def test_the_smallest_books_fit_the_chunk_budget(corpus: BenchCorpus) -> None:
    assert smallest_books(corpus, [SMALLEST_BOOK, "1342", "11"], 150) == {SMALLEST_BOOK}
    assert smallest_books(corpus, [SMALLEST_BOOK], 50) == set()


def test_two_backends_score_the_same_chunks_and_are_paired(corpus: BenchCorpus) -> None:
    text = corpus.chunk_texts(SMALLEST_BOOK, None)[5]
    questions = [
        Question(id="own", question=text, chunk_ids=(f"{SMALLEST_BOOK}:5",), book=SMALLEST_BOOK),
        Question(id="none", question="Who won the cup final?", book=SMALLEST_BOOK,
                 answer="the referee blew the whistle at the stadium in extra time"),
    ]
    report = measure_retrieval(["onnx", "onnx-int8"], questions, corpus, Settings.from_env({}))
    figures = report.as_dict()
    assert (figures["questions"], figures["books"], figures["chunks"]) == (2, 1, 99)
    onnx, int8 = figures["backends"]
    # A chunk's own text finds it first with either backend; the made-up quote never.
    assert onnx["recall@1"] == int8["recall@1"] == 0.5
    assert onnx["recall@10"] == int8["recall@10"] == 0.5
    paired = {p["k"]: p for p in int8["paired_with_reference"]}
    assert (paired[5]["a_only"], paired[5]["b_only"], paired[5]["both"]) == (0, 0, 1)
    table = "\n".join(retrieval_markdown(figures))
    assert "| onnx-int8 | 0.500 | 0.500 | 0.500 | 0.500 | 0 | 0 | 0 | 0 |" in table
    bench = BenchReport(machine={}, options={}, retrieval=figures)
    assert "Retrieval on the bundled question set (2 questions, 1 books, 99 chunks" in markdown(
        bench
    )
