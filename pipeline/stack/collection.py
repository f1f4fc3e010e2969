"""Opening a collection to read it: CHROMA_URL's server, a running stack's, or a short-lived one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pipeline.errors import RagmillError, UsageError
from pipeline.stack.cluster import Cluster, find_cluster
from pipeline.stack.local import LocalStack, StackPlan
from tasks.collection_record import RecordMismatch, check_reader, claim
from tasks.embedding.backend import EmbeddingBackend, TextEncoder
from tasks.settings import Settings
from tasks.store import ChunkStore


@contextmanager
def open_store(
    settings: Settings, *, check: bool = True, cluster: Cluster | None = None
) -> Iterator[ChunkStore]:
    """The store of `settings.collection`, open for the block; with `check`, only when
    `settings` embed into its vector space (tasks/collection_record.py). `cluster` is the one
    the caller already found, if any."""
    with chroma_for(settings, cluster) as reachable:
        assert reachable.chroma_url is not None
        store = ChunkStore.connect(reachable.chroma_url, settings.collection)
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
    """Before an ingest: refuse a collection made otherwise, record what makes a new one.

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
