"""Opening a collection to read it: CHROMA_URL's server, a running stack's, or a short-lived one.

Readers never create a collection: every reader (the CLI's read commands, eval, `Library`, the
search service and the MCP server) opens its store through `open_reader`, and a name the server
does not hold is one `UnknownCollection` line naming the collections it does hold. Only writers
(an ingest's `claim_collection`, the workers) make a collection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chromadb.errors import NotFoundError

from pipeline.errors import RagmillError, UsageError
from pipeline.stack.cluster import Cluster, find_cluster
from pipeline.stack.local import LocalStack, StackPlan
from tasks.collection_record import RecordMismatch, check_reader, claim
from tasks.embedding.backend import EmbeddingBackend, TextEncoder
from tasks.settings import Settings
from tasks.store import ChunkStore, chroma_client

# Names a missing collection's message lists at most, so it stays one line on any server.
LISTED_COLLECTIONS = 20
# A name longer than this is shown cut (a request may carry any string as a name).
SHOWN_NAME = 80


class UnknownCollection(UsageError):
    """The collection asked for does not exist on the Chroma server (readers never create one)."""

    @classmethod
    def on(cls, client: Any, collection: str, chroma_url: str) -> UnknownCollection:
        """The one line for `collection` missing from `client`'s server, naming those there."""
        names = sorted(c.name for c in client.list_collections())
        if not names:
            there = "there are no collections there yet; `ragmill ingest` makes one"
        else:
            listed = ", ".join(names[:LISTED_COLLECTIONS])
            more = len(names) - LISTED_COLLECTIONS
            there = (f"collections there: {listed}"
                     + (f" and {more} more (`ragmill collections` lists them)" if more > 0 else ""))
        return cls(f"collection {_shown(collection)} does not exist on {chroma_url}; {there}")


def _shown(name: str) -> str:
    if name.isprintable() and len(name) <= SHOWN_NAME:
        return name
    return repr(name[:SHOWN_NAME]) + ("..." if len(name) > SHOWN_NAME else "")


def open_reader(
    chroma_url: str, collection: str, *, client: Any = None,
    kind: type[ChunkStore] = ChunkStore,
) -> ChunkStore:
    """The store of `collection` on the Chroma server at `chroma_url`, opened to read (a `kind`,
    over `client` if given); UnknownCollection when the server has none, and none is made."""
    client = client if client is not None else chroma_client(chroma_url)
    try:
        return kind.open(client, collection)
    except NotFoundError:
        raise UnknownCollection.on(client, collection, chroma_url) from None


@contextmanager
def open_store(
    settings: Settings, *, check: bool = True, cluster: Cluster | None = None
) -> Iterator[ChunkStore]:
    """The store of `settings.collection`, open for reading for the block (UnknownCollection
    when there is none); with `check`, only when `settings` embed into its vector space
    (tasks/collection_record.py). `cluster` is the one the caller already found, if any."""
    with chroma_for(settings, cluster) as reachable:
        assert reachable.chroma_url is not None
        store = open_reader(reachable.chroma_url, settings.collection)
        if check:
            with record_errors():
                check_reader(store, settings)
        yield store


@contextmanager
def record_errors() -> Iterator[None]:
    """A collection made otherwise is a setting to change: one line, exit 2."""
    try:
        yield
    except RecordMismatch as exc:
        raise UsageError(str(exc)) from None


def reader_embedder(store: ChunkStore, settings: Settings) -> TextEncoder:
    """The embedder that puts a question into the vector space of `store`: the backend its
    record names, so collections made by different backends can be scored side by side."""
    with record_errors():
        backend = EmbeddingBackend.from_record(store, settings)
    if backend.remote:
        return backend.question_encoder()
    return backend.local_encoder(batch_size=settings.encode_batch_size)


def claim_collection(settings: Settings, chroma_url: str | None) -> None:
    """Before an ingest: refuse a collection made otherwise, make a new one and record what
    makes it (a writer's open: this creates the collection).

    Without a Chroma URL here (workers reach their own CHROMA_URL) the workers check alone.
    """
    if chroma_url is not None:
        with record_errors():
            claim(ChunkStore.connect(chroma_url, settings.collection), settings)


@contextmanager
def chroma_for(settings: Settings, cluster: Cluster | None = None) -> Iterator[Settings]:
    """`settings` with a Chroma URL for the block: CHROMA_URL's, a running stack's, or that of
    a Chroma server started over the data directory for the block."""
    found = (cluster or find_cluster(settings)).chroma_url
    if found is not None:
        yield settings.with_changes(chroma_url=found)
        return
    if not (settings.data_dir / "chroma").exists():
        raise RagmillError(
            f"nothing is stored under {settings.data_dir} yet; run `ragmill ingest` first"
        )
    # A Chroma server owns the directory, never this process: an ingest starting meanwhile
    # waits for the stack lock instead of writing the same files.
    with LocalStack(settings.data_dir, StackPlan(workers=False)) as own:
        yield settings.with_changes(chroma_url=own.chroma_url)
