"""Reading Project Gutenberg's ``pg_catalog.csv`` and choosing books from it."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from corpus.errors import SourceError

__all__ = ["CatalogEntry", "parse_catalog", "select_books"]

_REQUIRED = ("Text#", "Type", "Title", "Language", "Authors")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class CatalogEntry:
    """One row of the catalog, reduced to what choosing books needs."""

    book_id: str
    type: str
    title: str
    language: str
    authors: str


def parse_catalog(text: str) -> Iterator[CatalogEntry]:
    """Yield the catalog's rows in order, skipping rows without a numeric id."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    missing = [name for name in _REQUIRED if name not in (reader.fieldnames or [])]
    if missing:
        raise SourceError(
            f"catalog: header lacks {', '.join(missing)}; "
            "expected Gutenberg's pg_catalog.csv (Text#,Type,Issued,Title,Language,Authors,...)"
        )
    for row in reader:
        book_id = (row.get("Text#") or "").strip()
        if not book_id.isascii() or not book_id.isdigit():
            continue
        yield CatalogEntry(
            book_id=str(int(book_id)),
            type=_clean(row.get("Type")),
            # Titles in the real catalog carry embedded newlines between title and subtitle.
            title=_clean(row.get("Title")),
            language=_clean(row.get("Language")),
            authors=_clean(row.get("Authors")),
        )


def select_books(
    entries: Iterable[CatalogEntry], *, language: str | None, limit: int | None
) -> list[str]:
    """Ids of the first ``limit`` texts (in catalog order) in ``language``, if given."""
    if limit is not None and limit <= 0:
        return []
    wanted = language.strip().lower() if language else None
    chosen: list[str] = []
    for entry in entries:
        if entry.type.lower() != "text":
            continue
        if wanted is not None and wanted not in _languages(entry.language):
            continue
        chosen.append(entry.book_id)
        if limit is not None and len(chosen) >= limit:
            break
    return chosen


def _languages(field: str) -> set[str]:
    """The lower-cased language codes of a ``"; "``-joined field."""
    return {code.strip().lower() for code in field.split(";") if code.strip()}


def _clean(value: str | None) -> str:
    """Collapse runs of whitespace, newlines included, to single spaces."""
    return _SPACES.sub(" ", value or "").strip()
