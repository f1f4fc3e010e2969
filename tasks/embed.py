"""`embed_batch`: embed a batch of chunks and upsert it (queue `embed`, prefork pool)."""

from __future__ import annotations

from typing import Any

from celery import Task

from tasks import resources
from tasks.app import app
from tasks.progress import RunLedger
from tasks.store import Metadata


class EmbedTask(Task):
    """Writes a batch's final failure to the run ledger, failing its book."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        run_id, book, index = args[0], args[2], args[3]
        reason = f"{book['source']}: batch {index} could not be stored: {type(exc).__name__}: {exc}"
        RunLedger(resources.redis_client(), run_id).fail(
            book["source"], reason.splitlines()[0], book["book_id"]
        )


@app.task(
    name="ragmill.embed_batch",
    base=EmbedTask,
    bind=True,
    # Chroma or Redis away for a moment must not drop a batch: retry with growing waits.
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=6,
)
def embed_batch(
    self: Task,
    run_id: str,
    collection: str,
    book: dict[str, str],
    index: int,
    chunks: list[dict[str, Any]],
) -> dict[str, Any]:
    """Embed `chunks` of `book` together, upsert them, and count the batch in the run."""
    ledger = RunLedger(resources.redis_client(), run_id)
    if ledger.cancelled():
        # The run was stopped: its queued batches are dropped unembedded, and running the same
        # command again sends only the chunks still missing from the store.
        return {"book": book["book_id"], "batch": index, "chunks": 0, "skipped": "run cancelled"}
    texts = [c["text"] for c in chunks]
    # A chunk's LLM-written context (--contextualize) is embedded with it and kept in metadata;
    # then the chunker's token counts no longer describe what is embedded.
    with_context = any(c.get("context") for c in chunks)
    vectors = resources.embedder().encode(
        [f"{c['context']}\n\n{c['text']}" if c.get("context") else c["text"] for c in chunks],
        lengths=None if with_context else [int(c["tokens"]) for c in chunks],
    )
    metadatas: list[Metadata] = [
        {
            **book,
            "position": int(c["position"]),
            "tokens": int(c["tokens"]),
            **({"context": str(c["context"])} if c.get("context") else {}),
        }
        for c in chunks
    ]
    store = resources.chunk_store(collection)
    store.upsert([c["id"] for c in chunks], vectors, texts, metadatas)
    # The node name (e.g. embed@host-2) shows in the ledger which machine stored the batch.
    if ledger.complete_batch(book["book_id"], index, self.request.hostname or "") == 1:
        # The book's new chunks have all landed; only now drop the ones it no longer has.
        store.delete(ledger.take_stale(book["book_id"]))
    return {"book": book["book_id"], "batch": index, "chunks": len(chunks)}
