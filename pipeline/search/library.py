"""ragmill from Python: search, ask, list, delete and ingest books in one collection.

    from pipeline.search.library import Library

    library = Library(collection="ragmill", chroma_url="http://127.0.0.1:8000")
    for r in library.search("a monster made by a scientist", k=3, language="en"):
        print(r.book_id, r.title, r.score, r.text[:80])

One `Library` loads the embedding model once, on its first search, and keeps it; the CLI's
`books`, `delete` and `collections`, and `ragmill serve`, are thin shells over the same object,
so all of them answer the same question the same way (docs/python-api.md). Reading never
creates a collection: a name the server does not hold is an `UnknownCollection` (raised by
pipeline/stack/collection.py for every reader, importable from here) naming those it holds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import RagmillError
from pipeline.search.answers import Answer, answer_question, make_chat
from pipeline.search.filters import Filters, filtered_search
from pipeline.search.keyword import DEFAULT_MODE
from pipeline.search.query import Result
from pipeline.search.query_batching import MicroBatcher, batching_encoder
from pipeline.stack.cluster import find_cluster
from pipeline.stack.collection import UnknownCollection, open_reader, record_errors
from tasks.collection_record import BACKEND_KEY, MODEL_KEY, check_reader
from tasks.embedding.backend import EmbeddingBackend, TextEncoder
from tasks.settings import Settings
from tasks.store import ChunkStore, Hit, Metadata, chroma_client

UNRECORDED = "unrecorded"


# How long a long-lived reader trusts a collection's chunk count. Searches ask for it (an empty
# collection answers nothing; the keyword index is keyed by it), and one Chroma round trip per
# search for it cost a tenth of the service's time; a count a second old only means chunks
# written in the last second reach the keyword index a second later.
COUNT_SECONDS = 1.0


# Query vectors per Chroma query at most when concurrent searches are sent together.
MAX_BATCH_QUERIES = 32


class ReaderStore(ChunkStore):
    """A ChunkStore for a long-lived reader shared by threads: concurrent searches with the same
    k and filter go to Chroma as one query (search/query_batching.py), and the chunk count is
    reused for COUNT_SECONDS."""

    def __init__(self, client: Any, collection: str, *, create: bool = False) -> None:
        super().__init__(client, collection, create=create)
        self._count: tuple[float, int] | None = None
        self._queries: MicroBatcher[np.ndarray, list[Hit]] = MicroBatcher(
            self._query, MAX_BATCH_QUERIES
        )

    def search(
        self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None
    ) -> list[Hit]:
        key = (k, json.dumps(where, sort_keys=True) if where else None)
        return self._queries.submit(key, [vector])[0]

    def _query(self, key: tuple[int, str | None], vectors: list[np.ndarray]) -> list[list[Hit]]:
        k, where = key
        return self.search_many(vectors, k, json.loads(where) if where else None)

    def count(self) -> int:
        now = time.monotonic()
        if self._count is None or now - self._count[0] > COUNT_SECONDS:
            self._count = (now, super().count())
        return self._count[1]

    def delete(self, ids: Sequence[str]) -> None:
        super().delete(ids)
        self._count = None


@dataclass(frozen=True)
class Book:
    """One book of a collection, as `ragmill books` lists it."""

    book_id: str
    title: str
    author: str
    language: str
    source: str
    chunks: int
    # When its newest chunk was written (UTC, ISO 8601); None for chunks stored before ragmill
    # recorded it.
    ingested_at: str | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Deleted:
    """What `Library.delete` removed: chunks per book id, and the ids that matched no book."""

    chunks: dict[str, int] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CollectionInfo:
    """A collection on the Chroma server and the model that made its vectors, when recorded."""

    name: str
    chunks: int
    model: str
    backend: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def summarize_books(metadatas: Iterable[Metadata]) -> list[Book]:
    """Books of a collection from its chunks' metadata (read once, in any order), in book id
    order."""
    seen: dict[str, dict[str, Any]] = {}
    for m in metadatas:
        book = seen.setdefault(str(m.get("book_id", "")), {"meta": m, "chunks": 0, "at": None})
        book["chunks"] += 1
        at = m.get("ingested_at")
        if isinstance(at, str) and (book["at"] is None or at > book["at"]):
            book["at"] = at
    return [
        Book(
            book_id=book_id,
            title=str(b["meta"].get("title", "")),
            author=str(b["meta"].get("author", "")),
            language=str(b["meta"].get("language", "")),
            source=str(b["meta"].get("source", "")),
            chunks=b["chunks"],
            ingested_at=b["at"],
        )
        for book_id, b in sorted(seen.items(), key=lambda kv: _book_order(kv[0]))
    ]


def _book_order(book_id: str) -> tuple[int, int, str]:
    # Gutenberg ids in numeric order first, then the rest (files, URLs) by name.
    return (0, int(book_id), "") if book_id.isdigit() else (1, 0, book_id)


class Library:
    """One collection on one Chroma server, with the embedding model loaded once.

    `collection` and `chroma_url` default to RAGMILL_COLLECTION and CHROMA_URL, else the Chroma
    server of the `ragmill up` stack running for `data_dir` (RAGMILL_DATA_DIR, ./data).
    Safe to share between threads: the model loads once under a lock, and Chroma's HTTP client
    is thread-safe. `embedder` and `client` share a loaded model and a Chroma client of
    `chroma_url` with other libraries. Reading never creates the collection: a name the server
    does not hold is an UnknownCollection.
    """

    def __init__(
        self,
        collection: str | None = None,
        chroma_url: str | None = None,
        *,
        data_dir: Path | None = None,
        settings: Settings | None = None,
        embedder: TextEncoder | None = None,
        client: Any = None,
    ) -> None:
        settings = settings or Settings.from_env()
        changes: dict[str, Any] = {"collection": collection} if collection else {}
        if data_dir is not None:
            changes["data_dir"] = data_dir.absolute()
        settings = settings.with_changes(**changes) if changes else settings
        url = chroma_url or settings.chroma_url or _stack_chroma(settings)
        self.settings = settings.with_changes(chroma_url=url)
        self.chroma_url = url
        # Libraries of one server may share one Chroma client and one loaded model (the search
        # service's do): a client costs a tenth of a second and a megabyte or two to make.
        self._client: Any = client
        self._store: ChunkStore | None = None
        self._embedder = embedder
        self._lock = threading.Lock()
        # Book ids seen to exist, so a filtered search need not ask Chroma again; a deleted
        # book then finds nothing rather than being refused.
        self._known_books: set[str] = set()

    @property
    def collection(self) -> str:
        return self.settings.collection

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                self._client = chroma_client(self.chroma_url)
            except ValueError as exc:  # chromadb's "Could not connect to a Chroma server"
                raise RagmillError(f"Chroma at {self.chroma_url} does not answer: {exc}") from None
        return self._client

    @property
    def store(self) -> ChunkStore:
        """The collection's store; UnknownCollection when the server has no such collection
        (reading never creates one)."""
        if self._store is None:
            self._store = open_reader(self.chroma_url, self.collection, client=self.client,
                                      kind=ReaderStore)
        return self._store

    @property
    def embedder(self) -> TextEncoder:
        """The embedding model, loaded on first use and kept for the object's life; refused in
        one line when the collection records vectors made by another model or backend."""
        with self._lock:
            if self._embedder is None:
                # A collection not yet made has no record to check: the service starts first.
                with suppress(UnknownCollection), record_errors():
                    check_reader(self.store, self.settings)
                self._embedder = EmbeddingBackend.from_settings(self.settings).question_encoder()
            return self._embedder

    def search(
        self, question: str, k: int = 5, *, where: str | dict[str, Any] | None = None,
        mode: str = DEFAULT_MODE, **filters: str | Sequence[str] | None,
    ) -> list[Result]:
        """The `k` chunks closest in meaning to `question`, best first.

        Filters: book, author, language, title, chapter (a value or a list of values, any of
        which may match) and `where`, a raw Chroma filter (dict or JSON text). `mode`: "meaning",
        "keyword" (BM25 over the words; loads no model) or "hybrid" (both, fused).
        """
        chosen = Filters.from_values(where=where, **filters)
        store = self.store  # a collection that does not exist is refused before a model loads
        encoder = None if mode == "keyword" else batching_encoder(self.embedder)
        return filtered_search(store, self.settings, question, k, chosen,
                               embedder=encoder, known_books=self._known_books, mode=mode)

    def ask(
        self, question: str, k: int = 5, *, where: str | dict[str, Any] | None = None,
        mode: str = DEFAULT_MODE, **filters: str | Sequence[str] | None,
    ) -> Answer:
        """The LLM's answer to `question` from the `k` closest chunks, with the ones it cites.

        Without an LLM configured (LLM_BASE_URL and LLM_MODEL, docs/llm.md) the answer's text
        is None and its sources are the closest chunks: what every front end shows then.
        """
        results = self.search(question, k, where=where, mode=mode, **filters)
        if not results:
            raise RagmillError(f"collection {self.collection} holds no chunks to answer from")
        if not self.settings.llm.configured:
            return Answer(question, None, results)
        return answer_question(question, results, make_chat(self.settings.llm, self.settings))

    def books(self) -> list[Book]:
        """Every book of the collection with its chunk count and when it was ingested."""
        # A page of metadata at a time: a long-lived reader's memory stays that of the books,
        # not of every chunk.
        return summarize_books(self.store.iter_metadatas())

    def delete(self, *book_ids: str) -> Deleted:
        """Remove the chunks of `book_ids`, and nothing else; ids with no chunks are reported."""
        deleted = Deleted()
        for book_id in dict.fromkeys(book_ids):
            ids = self.store.ids_of_book(book_id)
            if ids:
                self.store.delete(sorted(ids))
                self._known_books.discard(book_id)
                deleted.chunks[book_id] = len(ids)
            else:
                deleted.unknown.append(book_id)
        return deleted

    def collections(self) -> list[CollectionInfo]:
        """Every collection on the server, with the model its record names (or "unrecorded")."""
        found = []
        for c in sorted(self.client.list_collections(), key=lambda c: c.name):
            meta = c.metadata or {}
            found.append(CollectionInfo(
                name=c.name, chunks=int(c.count()),
                model=str(meta.get(MODEL_KEY) or UNRECORDED),
                backend=str(meta.get(BACKEND_KEY) or UNRECORDED),
            ))
        return found

    def ingest(self, *inputs: str, **options: Any) -> Any:
        """Ingest Gutenberg ids, files, folders or URLs through the running stack or cluster.

        Needs workers: REDIS_URL's cluster or a `ragmill up` stack, whose workers write to this
        library's Chroma server. Returns the IngestResult (`.run_id`, `.report`).
        """
        from pipeline.ingest.run import IngestRequest, ingest

        found = find_cluster(self.settings)
        if self.settings.redis_url is None and not found.kept_up:
            raise RagmillError(
                "no stack or cluster to ingest with; run `ragmill up` or set REDIS_URL"
            )
        return ingest(IngestRequest(inputs=inputs, **options),
                      self.settings.with_changes(redis_url=found.redis_url), cluster=found)

    def sync(self, folders: Sequence[str | Path], dry_run: bool = False) -> Any:
        """Make this collection hold exactly what `folders` hold now (docs/sync.md); with
        `dry_run`, only say what that would do. Needs workers as `ingest` does, except for a
        dry run. Returns the SyncResult `ragmill sync` prints (`.as_dict()` for its JSON)."""
        from pipeline.ingest.sync import sync

        found = find_cluster(self.settings)
        if not dry_run and self.settings.redis_url is None and not found.kept_up:
            raise RagmillError(
                "no stack or cluster to sync with; run `ragmill up` or set REDIS_URL"
            )
        return sync([str(f) for f in folders],
                    self.settings.with_changes(redis_url=found.redis_url),
                    dry_run_only=dry_run, cluster=found)


def _stack_chroma(settings: Settings) -> str:
    url = find_cluster(settings).chroma_url
    if url is None:
        raise RagmillError(
            f"no Chroma server to read: give chroma_url, set CHROMA_URL, or run `ragmill up` "
            f"(no stack runs for {settings.data_dir})"
        )
    return url
