"""Reading a book rather than searching it: the passages around a chunk, and a book's chapters.

A chunk's metadata holds its book and its position in it (0, 1, 2, ... in reading order), so
the text before and after a hit is the same book's chunks at the neighbouring positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.errors import UsageError
from pipeline.search.library import Book, summarize_books
from pipeline.search.query import Result
from tasks.store import ChunkStore, Hit, Metadata

# A window wide enough to read a scene, small enough to fit an agent's context.
MAX_NEIGHBOURS = 20


@dataclass(frozen=True)
class Window:
    """The passages around one chunk, in book order, and whether the book goes on."""

    passages: list[Result]
    more_before: bool
    more_after: bool


def around(store: ChunkStore, chunk_id: str, before: int, after: int) -> Window:
    """`chunk_id` with up to `before` passages before it and `after` after it."""
    for name, value in (("before", before), ("after", after)):
        if not 0 <= value <= MAX_NEIGHBOURS:
            raise UsageError(f"{name}={value} is out of range; read 0 to {MAX_NEIGHBOURS} "
                             "passages on each side and call again to read on")
    found = store.collection.get(ids=[chunk_id], include=["metadatas"])
    if not found["ids"]:
        raise UsageError(f"chunk {chunk_id!r} is not in collection {store.collection.name}; "
                         "pass a chunk_id from the search tool's results")
    meta = (found["metadatas"] or [{}])[0] or {}
    book, position = str(meta.get("book_id", "")), int(meta.get("position", 0))
    # One passage more on each side than asked for tells whether the book goes on.
    low, high = position - before - 1, position + after + 1
    chunks = _chunks(store, {"$and": [{"book_id": book}, {"position": {"$gte": max(low, 0)}},
                                      {"position": {"$lte": high}}]})
    inside = [r for r in chunks if low < r.position < high]
    return Window(inside, more_before=any(r.position == low for r in chunks),
                  more_after=any(r.position == high for r in chunks))


@dataclass(frozen=True)
class ChapterStart:
    """Where a chapter starts (its first passage, text left out) and how many passages it has."""

    chapter: str | None
    first: Result
    chunks: int


def describe(store: ChunkStore, book_id: str) -> tuple[Book, Result, list[ChapterStart]]:
    """The book as list_books shows it, its first passage, and where each chapter starts."""
    passages, metadatas = _get(store, {"book_id": book_id}, texts=False)
    if not passages:
        raise UsageError(f"book {book_id!r} is not in collection {store.collection.name}; "
                         "the list_books tool lists the books it holds")
    starts: list[ChapterStart] = []
    for r in passages:
        if starts and starts[-1].chapter == r.chapter:
            last = starts[-1]
            starts[-1] = ChapterStart(last.chapter, last.first, last.chunks + 1)
        else:
            starts.append(ChapterStart(r.chapter, r, 1))
    # A book without chapters is one run of None: there are no chapters to list.
    if len(starts) == 1 and starts[0].chapter is None:
        starts = []
    return summarize_books(metadatas)[0], passages[0], starts


def _chunks(store: ChunkStore, where: dict[str, Any]) -> list[Result]:
    return _get(store, where, texts=True)[0]


def _get(store: ChunkStore, where: dict[str, Any], *,
         texts: bool) -> tuple[list[Result], list[Metadata]]:
    """The chunks `where` matches as Results in book order, and their metadata."""
    include: Any = ["metadatas", "documents"] if texts else ["metadatas"]
    got = store.collection.get(where=where, include=include)
    documents = got.get("documents") or [""] * len(got["ids"])
    metadatas: list[Metadata] = [dict(m or {}) for m in got["metadatas"] or []]
    found = [Result.from_hit(0, Hit(id=i, score=0.0, text=t or "", metadata=m))
             for i, t, m in zip(got["ids"], documents, metadatas, strict=True)]
    return sorted(found, key=lambda r: r.position), metadatas
