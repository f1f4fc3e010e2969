"""Filters become one Chroma `where`; nonsense is refused in one line before any search."""

from __future__ import annotations

import pytest

from pipeline.errors import UsageError
from pipeline.search.filters import (
    MAX_QUESTION_CHARS,
    Filters,
    check_k,
    check_question,
    parse_where,
)


def test_no_filter_is_no_where() -> None:
    assert Filters().to_where() is None
    assert Filters.from_values(book=(), author=None, where=None).to_where() is None


def test_one_value_is_an_equality_and_several_are_in() -> None:
    assert Filters.from_values(book=["84"]).to_where() == {"book_id": "84"}
    assert Filters.from_values(language=("en", "fr")).to_where() == {
        "language": {"$in": ["en", "fr"]}
    }


def test_different_fields_and_a_raw_where_must_all_match() -> None:
    where = Filters.from_values(
        book="84", author=["Mary Shelley"], chapter="Letter 1",
        where='{"position": {"$lt": 10}}',
    ).to_where()
    assert where == {"$and": [
        {"book_id": "84"}, {"author": "Mary Shelley"}, {"chapter": "Letter 1"},
        {"position": {"$lt": 10}},
    ]}


def test_raw_where_alone_passes_through() -> None:
    assert Filters.from_values(where={"language": "de"}).to_where() == {"language": "de"}


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"a": 1, "b": 2}', "not a Chroma filter"),
        ('{"$and": [{"a": 1}]}', "not a Chroma filter"),
        ('{"position": {"$lt": "ten"}}', "not a Chroma filter"),
    ],
)
def test_malformed_where_is_one_line(raw: str, says: str) -> None:
    with pytest.raises(UsageError, match=says) as caught:
        parse_where(raw)
    assert "\n" not in str(caught.value)


def test_unknown_filter_and_empty_value_are_refused() -> None:
    with pytest.raises(UsageError, match="unknown filter 'genre'"):
        Filters.from_values(genre="horror")
    with pytest.raises(UsageError, match="filter author has an empty value"):
        Filters.from_values(author=["  "])


def test_filters_report_what_is_set() -> None:
    assert Filters.from_values(book=["1", "2"], where='{"x": 1}').as_dict() == {
        "book": ["1", "2"], "where": {"x": 1}
    }


def test_questions_must_be_neither_empty_nor_huge() -> None:
    assert check_question("  whales  ") == "whales"
    with pytest.raises(UsageError, match="empty"):
        check_question("   ")
    with pytest.raises(UsageError, match="100,000 characters"):
        check_question("x" * 100_000)
    assert check_question("y" * MAX_QUESTION_CHARS)


@pytest.mark.parametrize("k", [0, -1, 10_000])
def test_k_out_of_range_is_refused(k: int) -> None:
    with pytest.raises(UsageError, match=f"k={k} is out of range"):
        check_k(k)
