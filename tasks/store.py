"""The Chroma collection that holds every chunk's vector, text and book metadata.

All processes reach Chroma through its server (`chroma run`), never by opening its directory
themselves: Chroma's on-disk store is not safe for two writing processes. Writes are upserts by
deterministic chunk id, so a redelivered batch or a re-ingested book writes nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self, cast

import chromadb
import httpx
import numpy as np
from chromadb.config import Settings as ChromaSettings

from tasks.embedding.onnx_encoder import normalize
from tasks.setting_checks import chroma_address

Metadata = dict[str, str | int | float | bool]
# Seconds one request to Chroma may take before it fails and its task retries: far longer than
# any request takes (an upsert of 256 chunks, a filtered query at a million chunks: about a
# second), and workers use less (tasks/resources.py), so a hung server never outlives a message.
CHROMA_TIMEOUT = 120.0
CONNECT_TIMEOUT = 10.0
# Chunks per metadata update (well below Chroma's batch limit).
UPDATE_PAGE = 1000
# Chunks per read when a reader goes through a whole collection or filter, so its memory stays
# that of one page whatever the collection's size: metadata 2,000 at a time (larger pages read
# no faster), ids 10,000 (small; Chroma evaluates a filter again for every page, so fewer pages
# keep a filter matching 40,000 chunks within a fifth of reading them all at once).
READ_PAGE = 2000
ID_PAGE = 10_000
# A filtered search whose filter matches at most this many chunks is ranked here, exactly, from
# their vectors (ChunkStore._search_few): about 3 MB of vectors at 384 dimensions.
EXACT_FILTER_LIMIT = 2000


@dataclass(frozen=True)
class Hit:
    """One query result: a stored chunk and how close it is to the query (1.0 = identical)."""

    id: str
    score: float
    text: str
    metadata: Metadata


def chroma_settings() -> ChromaSettings:
    # Telemetry would try to reach the internet from every worker.
    return ChromaSettings(anonymized_telemetry=False)


def chroma_client(chroma_url: str, timeout: float = CHROMA_TIMEOUT) -> Any:
    """A client of the Chroma server at `chroma_url` whose every request ends within
    `timeout` seconds (httpx.TimeoutException past it)."""
    host, port, ssl = chroma_address(chroma_url)
    client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings())
    # chromadb's HTTP client waits without a limit (httpx.Client(timeout=None)) and takes no
    # timeout of its own; a hung server would hold a worker's thread for ever.
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
    return client


class ChunkStore:
    """Upserts, lists, deletes and searches chunks in one Chroma collection.

    Writers (a worker, an ingest) make the collection when it is new; readers open it with
    `open`, which never makes one: a mistyped name must not leave an empty collection behind.
    """

    def __init__(self, client: Any, collection: str, *, create: bool = True) -> None:
        self.client = client
        # Vectors always come from ragmill's embedder; Chroma's default function would try to
        # download a model the first time it was used.
        if create:
            self.collection = client.get_or_create_collection(
                collection, metadata={"hnsw:space": "cosine"}, embedding_function=None,
            )
        else:
            self.collection = client.get_collection(collection, embedding_function=None)

    @classmethod
    def connect(
        cls, chroma_url: str, collection: str, timeout: float = CHROMA_TIMEOUT
    ) -> Self:
        """A writer's store on the Chroma server at `chroma_url`, making the collection if new."""
        return cls(chroma_client(chroma_url, timeout), collection)

    @classmethod
    def open(cls, client: Any, collection: str) -> Self:
        """A reader's store of an existing collection; chromadb's NotFoundError when there is
        none (pipeline/stack/collection.py `open_reader` turns it into a one-line error)."""
        return cls(client, collection, create=False)

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        texts: Sequence[str],
        metadatas: Sequence[Metadata],
    ) -> None:
        if not ids:
            return
        # When the chunk was written (UTC, ISO 8601), for `ragmill books`; chunks written before
        # this was recorded have none.
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self.collection.upsert(
            ids=list(ids),
            embeddings=vectors,
            documents=list(texts),
            metadatas=cast(Any, [{"ingested_at": now, **m} for m in metadatas]),
        )

    def ids_of_book(self, book_id: str) -> set[str]:
        """Ids of every chunk stored for `book_id`."""
        found = self.collection.get(where={"book_id": book_id}, include=[])
        return set(found["ids"])

    def ids_with_context(self, book_id: str) -> set[str]:
        """Ids of `book_id`'s chunks stored with an LLM-written context (metadata `context`)."""
        found = self.collection.get(where={"book_id": book_id}, include=["metadatas"])
        metadatas = found["metadatas"] or []
        return {i for i, m in zip(found["ids"], metadatas, strict=True) if m and m.get("context")}

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.collection.delete(ids=list(ids))

    def update_book_fields(self, ids: Sequence[str], fields: Metadata) -> bool:
        """Write `fields` (a book's title, author, language, source) on the stored chunks `ids`
        when the first of them holds other values; True if anything was written. One chunk is
        read, so a book ingested again unchanged costs one small request."""
        if not ids:
            return False
        found = self.collection.get(ids=[ids[0]], include=["metadatas"])["metadatas"] or [{}]
        current = found[0] or {}
        if all(current.get(key) == value for key, value in fields.items()):
            return False
        for start in range(0, len(ids), UPDATE_PAGE):
            page = list(ids[start:start + UPDATE_PAGE])
            self.collection.update(ids=page, metadatas=[dict(fields)] * len(page))
        return True

    def metadatas(
        self, where: dict[str, Any] | None = None, limit: int | None = None
    ) -> list[Metadata]:
        """The metadata of the chunks `where` matches (every chunk by default)."""
        found = self.collection.get(where=where, limit=limit, include=["metadatas"])
        return [dict(m or {}) for m in found["metadatas"] or []]

    def iter_metadatas(self, where: dict[str, Any] | None = None) -> Iterator[Metadata]:
        """`metadatas`, read READ_PAGE chunks at a time."""
        for page in self._pages(where, ["metadatas"], READ_PAGE):
            yield from (dict(m or {}) for m in page["metadatas"] or [])

    def iter_ids(self, where: dict[str, Any] | None = None) -> Iterator[str]:
        """The ids of the chunks `where` matches (every chunk by default), ID_PAGE at a time."""
        for page in self._pages(where, [], ID_PAGE):
            yield from page["ids"]

    def _pages(self, where: dict[str, Any] | None, include: list[str], size: int
               ) -> Iterator[Any]:
        offset = 0
        while True:
            page = self.collection.get(where=where, limit=size, offset=offset,
                                       include=cast(Any, include))
            yield page
            if len(page["ids"]) < size:
                return
            offset += len(page["ids"])

    def count(self) -> int:
        return int(self.collection.count())

    def all_ids(self) -> list[str]:
        return list(self.collection.get(include=[])["ids"])

    def search(
        self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        """The `k` chunks closest to `vector` among those `where` matches, best first."""
        return self.search_many([vector], k, where)[0]

    def search_many(
        self, vectors: Sequence[np.ndarray], k: int, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        """`search` for each of `vectors` in one Chroma query (one round trip for them all)."""
        if where is not None:
            exact = self._search_few(vectors, k, where)
            if exact is not None:
                return exact
        found = self.collection.query(
            query_embeddings=list(vectors), n_results=k, where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            [
                Hit(id=i, score=1.0 - float(d), text=t or "", metadata=dict(m or {}))
                for i, t, m, d in zip(ids, documents, metadatas, distances, strict=True)
            ]
            for ids, documents, metadatas, distances in zip(
                found["ids"], found["documents"] or [], found["metadatas"] or [],
                found["distances"] or [], strict=True,
            )
        ]

    def _search_few(
        self, vectors: Sequence[np.ndarray], k: int, where: dict[str, Any]
    ) -> list[list[Hit]] | None:
        """`search_many` done here, exactly, when `where` matches at most EXACT_FILTER_LIMIT
        chunks; None when it matches more.

        Chroma answers a filtered query by scoring every chunk the filter matches, and finding
        them costs it time that grows with the whole collection: a one-book search took 122 ms
        on 111,000 chunks, of which the filter alone (its ids, no vectors) was 19 ms. Fetching
        the few matching vectors and ranking them here is exact and skips the rest.
        """
        found = self.collection.get(
            where=where, include=["embeddings"], limit=EXACT_FILTER_LIMIT + 1
        )
        ids = found["ids"]
        if len(ids) > EXACT_FILTER_LIMIT:
            return None
        if not ids:
            return [[] for _ in vectors]
        stored = normalize(np.asarray(found["embeddings"], dtype=np.float32))
        scores = normalize(np.asarray(vectors, dtype=np.float32)) @ stored.T
        best = [np.argsort(-row, kind="stable")[:k] for row in scores]
        wanted = sorted({ids[j] for row in best for j in row})
        shown = self.collection.get(ids=wanted, include=["documents", "metadatas"])
        by_id = {
            i: (t or "", dict(m or {}))
            for i, t, m in zip(
                shown["ids"], shown["documents"] or [], shown["metadatas"] or [], strict=True
            )
        }
        return [
            [
                Hit(id=ids[j], score=float(row_scores[j]), text=by_id[ids[j]][0],
                    metadata=by_id[ids[j]][1])
                for j in row if ids[j] in by_id
            ]
            for row, row_scores in zip(best, scores, strict=True)
        ]

