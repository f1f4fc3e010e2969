"""Parsing Gutenberg's pg_catalog.csv and selecting books from it."""

from __future__ import annotations

import pytest

from corpus.catalog import CatalogEntry, parse_catalog, select_books
from corpus.errors import SourceError

CATALOG = """Text#,Type,Issued,Title,Language,Authors,Subjects,LoCC,Bookshelves
1342,Text,1998-06-01,Pride and Prejudice,en,"Austen, Jane, 1775-1817",Fiction,PR,Best Books
100,Sound,2000-01-01,A Recording,en,Someone,,,
2000,Text,1999-12-01,"Don Quijote",es,"Cervantes Saavedra, Miguel de, 1547-1616",,,
17989,Text,2006-03-15,"Le comte de Monte-Cristo
Tome I",fr; en,"Dumas, Alexandre, 1802-1870; Maquet, Auguste, 1813-1888",,,
abc,Text,,Broken row,en,,,,
84,Text,1993-10-01,Frankenstein,EN,"Shelley, Mary",,,
"""


def test_parse_catalog_reads_rows_in_order_and_skips_ids_that_are_not_numbers() -> None:
    assert [e.book_id for e in parse_catalog(CATALOG)] == ["1342", "100", "2000", "17989", "84"]


def test_parse_catalog_joins_multiline_titles_with_a_space() -> None:
    entry = list(parse_catalog(CATALOG))[3]
    assert entry == CatalogEntry(
        book_id="17989",
        type="Text",
        title="Le comte de Monte-Cristo Tome I",
        language="fr; en",
        authors="Dumas, Alexandre, 1802-1870; Maquet, Auguste, 1813-1888",
    )


def test_parse_catalog_rejects_a_file_without_the_catalog_header() -> None:
    with pytest.raises(SourceError, match="Text#"):
        list(parse_catalog("id,title\n1,x\n"))


def test_select_books_keeps_only_texts() -> None:
    assert "100" not in select_books(parse_catalog(CATALOG), language=None, limit=None)


def test_select_books_matches_any_of_several_languages_case_insensitively() -> None:
    assert select_books(parse_catalog(CATALOG), language="EN", limit=None) == [
        "1342",
        "17989",
        "84",
    ]


def test_select_books_takes_the_first_limit_in_catalog_order() -> None:
    assert select_books(parse_catalog(CATALOG), language=None, limit=2) == ["1342", "2000"]


def test_select_books_with_zero_limit_selects_nothing() -> None:
    assert select_books(parse_catalog(CATALOG), language=None, limit=0) == []
