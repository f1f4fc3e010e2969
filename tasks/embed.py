"""`embed_batch`: embed a batch of chunks and upsert it.

Local backends run on queue `embed` (prefork pool: CPU work); with EMBED_BACKEND=openai the batch
goes to queue `embed-remote` (threads pool: waiting on the endpoint, many requests in flight),
where the same task embeds through tasks.embedding.remote under the shared Redis limit.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from tasks import resources, reuse
from tasks.base import RunTask
from tasks.celery import app
from tasks.collection_record import RecordMismatch, WorkerCheck
from tasks.embedding.errors import FinalEmbedError
from tasks.ledger import BatchOutcome, RunLedger
from tasks.messages import BookInfo, ChunkItem, EmbedBatch, RunMessage, send_options
from tasks.queues import embed_queue
from tasks.store import Metadata

check_record = WorkerCheck()


class EmbedTask(RunTask):
    """A batch that could not be stored, after its retries, fails its book."""

    message_type = EmbedBatch
    # Chroma or Redis away for a moment must not drop a batch: one retry more than the default.
    max_retries = 6
    # A refused key, a malformed reply or a too-large request would fail the same way again, and
    # a collection made by another model or backend stays refused however often it is retried.
    dont_autoretry_for = (FinalEmbedError, RecordMismatch)

    def send(self, message: RunMessage, countdown: float | None = None) -> None:
        """Queue `message` on the queue of this process's embedding backend (to run no sooner
        than `countdown` seconds from now, when given)."""
        self.apply_async(
            queue=embed_queue(resources.settings()), countdown=countdown, **send_options(message)
        )

    def record_failure(self, message: EmbedBatch, ledger: RunLedger, reason: str) -> None:
        book = message.book
        ledger.fail(
            book.source, f"{book.source}: batch {message.index} could not be stored: {reason}",
            book.book_id,
        )


def encode(
    ledger: RunLedger, texts: list[str], lengths: list[int] | None
) -> tuple[np.ndarray, float]:
    """The texts' vectors from this process's backend, and 0; an endpoint's cost goes to the
    ledger. An endpoint may return the vectors of the first texts only, with the seconds its
    shared limit named before it would admit more (tasks/embedding/remote.py)."""
    if not resources.backend().remote:
        return resources.embedder().encode(texts, lengths=lengths), 0.0
    from tasks.embedding.remote import process_embedder

    embedded = process_embedder().embed(texts, partial=True)
    ledger.count_embed_usage(embedded.requests, embedded.tokens)
    return embedded.vectors, embedded.busy_wait


def later(wait: float) -> float:
    """Countdown for the rest of a batch the shared limit could not serve in time: the wait it
    named, with jitter, and well short of the visibility timeout, past which Redis would hand
    out the held message again."""
    cap = resources.settings().visibility_timeout / 4
    return min(cap, max(1.0, wait)) * random.uniform(1.0, 1.2)


@app.task(name="ragmill.embed_batch", base=EmbedTask, bind=True)
def embed_batch(self: EmbedTask, message: EmbedBatch) -> dict[str, Any]:
    """Embed the batch's chunks together, upsert them, and count the batch in the run."""
    ledger = self.ledger(message)
    chunks, book = message.chunks, message.book
    # A chunk's LLM-written context (--contextualize) is embedded with it and kept in metadata;
    # then the chunker's token counts no longer describe what is embedded.
    with_context = any(c.context for c in chunks)
    store = resources.chunk_store(message.collection)
    # Refuse before embedding: this worker's vectors must be in the collection's space.
    check_record(store, resources.settings())
    # A chunk whose exact text was embedded before takes the stored vector (tasks/reuse.py).
    got = reuse.encode_with_reuse(
        store.collection,
        reuse.vector_form(resources.settings()),
        [f"{c.context}\n\n{c.text}" if c.context else c.text for c in chunks],
        None if with_context else [c.tokens for c in chunks],
        lambda texts, lengths: encode(ledger, texts, lengths),
    )
    done = [chunks[i] for i in got.order]
    if done:
        metadatas = [
            {**chunk_metadata(book, chunks[i]), reuse.HASH_KEY: got.hashes[i]} for i in got.order
        ]
        store.upsert([c.id for c in done], got.vectors, [c.text for c in done], metadatas)
    reuse.count(ledger.client, ledger.run_id, f"{book.book_id}:{message.index}:{chunks[0].id}",
                got.embedded, got.reused)
    if got.rest:
        # The shared limit would not serve the rest within this task's wait: a later message
        # takes it, and this one is acknowledged now instead of being held past the visibility
        # timeout. The ledger counts the batch once, when its last chunk is stored.
        rest = tuple(chunks[i] for i in got.rest)
        self.send(message.model_copy(update={"chunks": rest}), later(got.busy))
        return {"book": book.book_id, "batch": message.index, "chunks": len(done),
                "deferred": len(rest)}
    # The node name (e.g. embed@host-2) shows in the ledger which machine stored the batch.
    outcome = ledger.complete_batch(book.book_id, message.index, self.request.hostname or "")
    if outcome == BatchOutcome.BOOK_COMPLETE:
        # The book's new chunks have all landed; only now drop the ones it no longer has.
        store.delete(ledger.take_stale(book.book_id))
    return {"book": book.book_id, "batch": message.index, "chunks": len(chunks)}


def chunk_metadata(book: BookInfo, chunk: ChunkItem) -> Metadata:
    """What Chroma keeps beside a chunk's vector: its book, place, chapter and pages.

    Chroma metadata values cannot be None, so a missing chapter, page or context is left out.
    """
    optional = {
        "chapter": chunk.chapter or None,
        "page_first": chunk.page_first,
        "page_last": chunk.page_last,
        "context": chunk.context or None,
    }
    return {
        **book.model_dump(),
        "position": chunk.position,
        "tokens": chunk.tokens,
        **{key: value for key, value in optional.items() if value is not None},
    }
