"""`fetch_book`: one book from source to embed batches (queue `io`, threads pool)."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from corpus.book import Book
from corpus.chunking import Chunk
from corpus.errors import CorpusError
from corpus.sources import Source
from tasks import resources
from tasks.app import app
from tasks.books import BookOptions, load_book
from tasks.embed import embed_batch
from tasks.llm.tasks import contextualize_batch
from tasks.progress import RunLedger

log = logging.getLogger(__name__)


class LedgerTask(Task):
    """A task whose final failure is written to its run's ledger, so the CLI can report it."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        run_id, label, book_id = self.ledger_target(args, kwargs)
        reason = f"{label}: {type(exc).__name__}: {exc}".splitlines()[0]
        RunLedger(resources.redis_client(), run_id).fail(label, reason, book_id)

    def ledger_target(self, args: Any, kwargs: Any) -> tuple[str, str, str | None]:
        run_id, source = args[0], args[1]
        return run_id, source["label"], None


@app.task(
    name="ragmill.fetch_book",
    base=LedgerTask,
    bind=True,
    # Corpus errors are final (the downloader already retried); anything else, such as Chroma
    # or Redis being briefly away, is retried with backoff.
    autoretry_for=(Exception,),
    dont_autoretry_for=(CorpusError,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def fetch_book(
    self: Task,
    run_id: str,
    source: dict[str, str],
    options: dict[str, Any],
    text: str | None = None,
) -> dict[str, Any]:
    """Fetch and chunk one book, then queue embed batches for the chunks not yet stored."""
    src = Source(kind=source["kind"], ref=source["ref"], label=source["label"])  # type: ignore[arg-type]
    ledger = RunLedger(resources.redis_client(), run_id)
    if ledger.cancelled():
        # Ctrl-C or --fail-fast stopped the run; running it again fetches this book then.
        return {"book": src.label, "skipped": "run cancelled"}
    try:
        book_options = BookOptions.from_message(options)
        book = load_book(src, book_options, text)
    except CorpusError as exc:
        ledger.fail(src.label, str(exc))
        return {"book": src.label, "failed": str(exc)}
    for warning in book.warnings:
        ledger.warn(warning)
    return queue_book(
        ledger, book_options.collection, src.label, book, contextualize=book_options.contextualize
    )


def queue_book(
    ledger: RunLedger, collection: str, label: str, book: Book, *, contextualize: bool = False
) -> dict[str, Any]:
    """Register `book` in the run and send its unstored chunks to the embed queue (through the
    llm queue first when `contextualize`)."""
    store = resources.chunk_store(collection)
    stored = store.ids_of_book(book.book_id)
    # With --contextualize, a chunk stored without a context is done again; one with a
    # context is not sent to the LLM again.
    done = store.ids_with_context(book.book_id) if contextualize else stored
    wanted = {chunk.id for chunk in book.chunks}
    batches = split_batches(book.chunks, resources.settings().batch_chunks)
    # A batch index is a fixed slice of the book, so a retried fetch names the same batches.
    todo = {i: [c for c in batch if c.id not in done] for i, batch in enumerate(batches)}
    todo = {i: chunks for i, chunks in todo.items() if chunks}
    outcome = ledger.register_book(
        book.book_id,
        label,
        chunks_total=len(book.chunks),
        already_stored=len(book.chunks) - sum(len(c) for c in todo.values()),
        batches={i: len(chunks) for i, chunks in todo.items()},
        stale_ids=sorted(stored - wanted),
    )
    summary = {"book": book.book_id, "chunks": len(book.chunks), "batches": len(todo)}
    if outcome == -1:
        ledger.warn(f"{label}: same book as another source of this run ({book.book_id}); skipped")
        ledger.count_done_without_work()
        return {**summary, "batches": 0, "duplicate": True}
    if outcome == 2:
        store.delete(ledger.take_stale(book.book_id))
        return summary
    if outcome == 0:
        # This fetch is a redelivery: resend whatever the first attempt may not have stored,
        # whole, because its recorded batch sizes are what the ledger will count.
        todo = {i: batches[i] for i in ledger.pending_batches(book.book_id)}
    elif contextualize:
        ledger.want_contexts(sum(len(c) for c in todo.values()))
    meta = book_metadata(book, label)
    for index, chunks in sorted(todo.items()):
        if contextualize:
            # Embedding waits for the contexts: the llm task sends the batch on when done.
            first = chunks[0].position
            contextualize_batch.apply_async(
                args=[
                    ledger.run_id,
                    collection,
                    meta,
                    index,
                    [chunk_message(c) for c in chunks],
                    book.chunks[first - 1].text if first > 0 else "",
                ],
                argsrepr=f"(run={ledger.run_id}, book={book.book_id}, batch={index}, "
                f"chunks={len(chunks)}, contextualize)",
            )
            continue
        embed_batch.apply_async(
            args=[ledger.run_id, collection, meta, index, [chunk_message(c) for c in chunks]],
            # Flower shows this instead of the chunk texts.
            argsrepr=f"(run={ledger.run_id}, book={book.book_id}, batch={index}, "
            f"chunks={len(chunks)})",
        )
    return summary


def split_batches(chunks: list[Chunk], size: int) -> list[list[Chunk]]:
    return [chunks[i : i + size] for i in range(0, len(chunks), size)]


def book_metadata(book: Book, label: str) -> dict[str, str]:
    return {
        "book_id": book.book_id,
        "title": book.meta.title,
        "author": book.meta.author,
        "language": book.meta.language,
        "source": label,
    }


def chunk_message(chunk: Chunk) -> dict[str, Any]:
    return {
        "id": chunk.id,
        "position": chunk.position,
        "text": chunk.text,
        "tokens": chunk.n_tokens,
    }
