"""Semantic search over the stored chunks."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tasks.embedding.choice import query_embedder
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
        )

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def search(store: ChunkStore, settings: Settings, text: str, k: int) -> list[Result]:
    """The `k` stored chunks closest in meaning to `text`, best first."""
    if store.count() == 0:
        return []
    embedder = query_embedder(settings)
    vector = embedder.encode([text])[0]
    return [Result.from_hit(i + 1, hit) for i, hit in enumerate(store.search(vector, k))]
