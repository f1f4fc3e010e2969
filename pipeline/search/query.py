"""Semantic search over the stored chunks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tasks.embedding.backend import EmbeddingBackend, TextEncoder
from tasks.settings import Settings
from tasks.store import ChunkStore, Hit


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
    # The chapter or section the passage lies in (None when the book has none).
    chapter: str | None = None
    # First and last printed page of the passage (PDF only).
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
            page_first=_page(m.get("page_first")),
            page_last=_page(m.get("page_last")),
        )

    @property
    def pages(self) -> str:
        """'p. 12', 'pp. 12-13' (with an en dash), or '' when the passage has no pages."""
        if self.page_first is None:
            return ""
        last = self.page_last if self.page_last is not None else self.page_first
        return f"p. {last}" if last == self.page_first else f"pp. {self.page_first}\u2013{last}"

    @property
    def place(self) -> str:
        """Where the passage is, as a reader finds it: 'book 84 · Letter 4 · p. 12'."""
        return " · ".join(filter(None, [f"book {self.book_id}", self.chapter, self.pages]))

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _page(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def search(
    store: ChunkStore, settings: Settings, text: str, k: int, *,
    where: dict[str, Any] | None = None, embedder: TextEncoder | None = None,
) -> list[Result]:
    """The `k` stored chunks closest in meaning to `text` among those `where` matches, best first.

    Pass a loaded `embedder` to search many times with one model; else one is loaded.
    """
    if store.count() == 0:
        return []
    vector = (embedder or question_encoder(settings)).encode([text])[0]
    hits = store.search(vector, k, where=where)
    return [Result.from_hit(i + 1, hit) for i, hit in enumerate(hits)]


def question_encoder(settings: Settings) -> TextEncoder:
    """The encoder for questions when the caller brings none: the backend `settings` name."""
    return EmbeddingBackend.from_settings(settings).question_encoder()
