"""What a search may be limited to, and the checks every search passes, in one place.

The CLI (`--book`, `--author`, ...), the Python API (`Library.search(q, book=...)`) and the HTTP API
(`/api/search?book=...`) all build one `Filters` and ask it for Chroma's `where`, so the three
speak the same language and refuse the same nonsense with the same one-line message.

Filters match metadata values exactly (Chroma has no substring match on metadata): several values
of one field match any of them; different fields must all match; a raw `where` (Chroma's own
filter language, https://docs.trychroma.com/docs/querying-collections/metadata-filtering) is
added to them with `$and`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chromadb.api.types import validate_where
from chromadb.errors import InvalidArgumentError

from pipeline.errors import UsageError
from pipeline.search.keyword import DEFAULT_MODE, check_mode, search_in_mode
from pipeline.search.query import Result
from tasks.embedding.backend import TextEncoder
from tasks.settings import Settings
from tasks.store import ChunkStore

Where = dict[str, Any]

# Long enough for any question a person asks; a 100,000-character "question" is a mistake or an
# attack, and embedding it would only be cut at the model's token window anyway.
MAX_QUESTION_CHARS = 2000
MAX_K = 1000

# The option or parameter name of each filter -> the chunk metadata key it matches.
FIELDS = {
    "book": "book_id",
    "author": "author",
    "language": "language",
    "title": "title",
    "chapter": "chapter",
}


@dataclass(frozen=True, kw_only=True)
class Filters:
    """Limits on which chunks a search may return; empty matches every chunk."""

    book: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    title: tuple[str, ...] = ()
    chapter: tuple[str, ...] = ()
    where: Where | None = field(default=None)

    @classmethod
    def from_values(cls, where: str | Where | None = None, **values: Any) -> Filters:
        """Filters from option values: each a string, a list of strings or None.

        `where` may be a JSON string (the CLI's and the HTTP API's --where) or a dict.
        Raise UsageError for an unknown filter name or a malformed `where`.
        """
        unknown = sorted(set(values) - set(FIELDS))
        if unknown:
            raise UsageError(
                f"unknown filter {unknown[0]!r}; use one of {', '.join(FIELDS)} or where"
            )
        picked = {name: _strings(name, value) for name, value in values.items()}
        return cls(where=parse_where(where), **picked)

    def to_where(self) -> Where | None:
        """One Chroma `where` for every filter, or None when nothing is filtered."""
        clauses: list[Where] = []
        for name, key in FIELDS.items():
            values = getattr(self, name)
            if len(values) == 1:
                clauses.append({key: values[0]})
            elif values:
                clauses.append({key: {"$in": list(values)}})
        if self.where:
            clauses.append(self.where)
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def as_dict(self) -> dict[str, Any]:
        """The filters that are set, as the HTTP API and --json name them."""
        found: dict[str, Any] = {n: list(getattr(self, n)) for n in FIELDS if getattr(self, n)}
        if self.where:
            found["where"] = self.where
        return found


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str | int) else list(value)
    cleaned = tuple(str(v).strip() for v in items if str(v).strip())
    if len(cleaned) != len(items):
        raise UsageError(f"filter {name} has an empty value; give a value or leave it out")
    return cleaned


def parse_where(raw: str | Mapping[str, Any] | None) -> Where | None:
    """A raw Chroma `where` from JSON text or a dict, checked by Chroma's own validator."""
    if raw is None or raw == "" or raw == {}:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"--where is not valid JSON ({exc.msg} at character {exc.pos}); "
                'give an object such as {"language": "en"}'
            ) from None
    if not isinstance(raw, Mapping):
        raise UsageError('--where must be a JSON object such as {"language": "en"}')
    where = dict(raw)
    try:
        validate_where(where)
    except ValueError as exc:
        raise UsageError(f"--where is not a Chroma filter: {exc}") from None
    return where


def check_question(text: str) -> str:
    """`text` stripped, or a UsageError when it is empty or too long to be a question."""
    question = text.strip()
    if not question:
        raise UsageError("the question is empty; ask something, e.g. \"a monster made by a "
                         "scientist\"")
    if len(question) > MAX_QUESTION_CHARS:
        raise UsageError(
            f"the question is {len(question):,} characters long; ask in at most "
            f"{MAX_QUESTION_CHARS:,}"
        )
    return question


def check_k(k: int) -> int:
    """`k`, or a UsageError when it is not between 1 and MAX_K."""
    if not 1 <= k <= MAX_K:
        raise UsageError(f"k={k} is out of range; ask for 1 to {MAX_K} passages")
    return k


def check_books(store: ChunkStore, books: Iterable[str], known: set[str] | None = None) -> None:
    """Raise UsageError naming the first of `books` that has no chunk in `store`.

    Books in `known` are taken as present without asking Chroma; those found are added to it
    (a long-lived reader saves a round trip per filtered search).
    """
    for book in books:
        if known is not None and book in known:
            continue
        if not store.metadatas(where={"book_id": book}, limit=1):
            raise UsageError(
                f"book {book} is not in collection {store.collection.name}; "
                "`ragmill books` lists the books it holds"
            )
        if known is not None:
            known.add(book)


def filtered_search(
    store: ChunkStore, settings: Settings, text: str, k: int, filters: Filters, *,
    embedder: TextEncoder | None = None, known_books: set[str] | None = None,
    mode: str = DEFAULT_MODE,
) -> list[Result]:
    """`search` after every check: the question, k, the mode (meaning, keyword or hybrid,
    search/keyword.py), the books named; Chroma's refusal of a filter becomes a UsageError."""
    question = check_question(text)
    check_k(k)
    check_mode(mode)
    check_books(store, filters.book, known_books)
    try:
        return search_in_mode(store, settings, question, k, mode, where=filters.to_where(),
                              embedder=embedder)
    except InvalidArgumentError as exc:
        raise UsageError(f"Chroma refused the filter: {exc}") from None
