"""Opening a collection to read it: CHROMA_URL's server, a running stack's, or a short-lived one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pipeline.errors import RagmillError
from pipeline.stack import LocalStack, StackPlan, running_stack
from tasks.embedding import Embedder
from tasks.settings import Settings
from tasks.store import ChunkStore


@contextmanager
def open_store(settings: Settings, *, check: bool = True) -> Iterator[ChunkStore]:
    """The store of `settings.collection`, open for the block."""
    with _open_store(settings) as store:
        yield store


def reader_embedder(store: ChunkStore, settings: Settings) -> Embedder:
    """The embedder that puts a question into the vector space of `store`."""
    return Embedder(
        settings.model, backend=settings.embed_backend, batch_size=settings.encode_batch_size
    )


@contextmanager
def _open_store(settings: Settings) -> Iterator[ChunkStore]:
    if settings.chroma_url:
        yield ChunkStore.connect(settings.chroma_url, settings.collection)
        return
    info = running_stack(settings.data_dir)
    if info is not None:
        yield ChunkStore.connect(info.chroma_url, settings.collection)
        return
    if not (settings.data_dir / "chroma").exists():
        raise RagmillError(
            f"nothing is stored under {settings.data_dir} yet; run `ragmill ingest` first"
        )
    # A Chroma server owns the directory, never this process: an ingest starting meanwhile
    # waits for the stack lock instead of writing the same files.
    with LocalStack(settings.data_dir, StackPlan(workers=False)) as own:
        yield ChunkStore.connect(own.chroma_url, settings.collection)
