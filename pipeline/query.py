"""Semantic search over the stored chunks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from tasks.embedding import Embedder
from tasks.settings import Settings
from tasks.store import ChunkStore, Hit


class Encoder(Protocol):
    """What search needs of a model: texts in, unit vectors out (an Embedder)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Result:
    """A hit shaped for people and for --json."""

    rank: int
    score: float
    book_id: str
    title: str
    author: str
    position: int
    chunk_id: str
    text: str
    # Where the chunk sits in its book, for books whose format tells (None when unknown).
    chapter: str | None = None
    page_first: int | None = None
    page_last: int | None = None

    @classmethod
    def from_hit(cls, rank: int, hit: Hit) -> Result:
        m = hit.metadata
        return cls(
            rank=rank,
            score=round(hit.score, 4),
            book_id=str(m.get("book_id", "")),
            title=str(m.get("title", "")),
            author=str(m.get("author", "")),
            position=int(m.get("position", -1)),
            chunk_id=hit.id,
            text=hit.text,
            chapter=str(m["chapter"]) if m.get("chapter") not in (None, "") else None,
            page_first=int(m["page_first"]) if m.get("page_first") is not None else None,
            page_last=int(m["page_last"]) if m.get("page_last") is not None else None,
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def search(
    store: ChunkStore, settings: Settings, text: str, k: int, *,
    where: dict[str, Any] | None = None, embedder: Encoder | None = None,
) -> list[Result]:
    """The `k` stored chunks closest in meaning to `text` among those `where` matches, best first.

    Pass a loaded `embedder` to search many times with one model; else one is loaded.
    """
    if store.count() == 0:
        return []
    embedder = embedder or Embedder(settings.model, backend=settings.embed_backend)
    vector = embedder.encode([text])[0]
    hits = store.search(vector, k, where=where)
    return [Result.from_hit(i + 1, hit) for i, hit in enumerate(hits)]
