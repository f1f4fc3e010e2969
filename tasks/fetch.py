"""`fetch_book`: one book from source to embed batches (queue `io`, threads pool)."""

from __future__ import annotations

from typing import Any, TypeVar

from corpus.book import Book
from corpus.chunking import Chunk
from corpus.errors import CorpusError
from tasks import ocr, resources
from tasks.base import RunTask
from tasks.books import load_book
from tasks.celery import app
from tasks.embed import embed_batch
from tasks.ledger import Registration, RunLedger
from tasks.llm.tasks import contextualize_batch
from tasks.messages import BookInfo, ChunkItem, ContextualizeBatch, EmbedBatch, FetchBook
from tasks.settings import Settings


class FetchTask(RunTask):
    """A fetch that failed for good fails its source."""

    message_type = FetchBook
    # Corpus errors are final (the downloader already retried); anything else, such as Chroma
    # or Redis being briefly away, is retried with backoff.
    dont_autoretry_for = (CorpusError,)

    def record_failure(self, message: FetchBook, ledger: RunLedger, reason: str) -> None:
        label = message.source.label
        ledger.fail(label, f"{label}: {reason}")


@app.task(name="ragmill.fetch_book", base=FetchTask, bind=True)
def fetch_book(self: FetchTask, message: FetchBook) -> dict[str, Any]:
    """Fetch and chunk one book, then queue embed batches for the chunks not yet stored."""
    ledger = self.ledger(message)
    label = message.source.label
    try:
        with ocr.for_run(ledger, message):
            book = load_book(message.source, message.options, message.data)
    except ocr.PagesQueued as queued:
        # Its scanned pages are being read on the embed processes; the last sends this again.
        return {"book": label, "ocr_pages": queued.pages}
    except CorpusError as exc:
        ledger.fail(label, str(exc))
        return {"book": label, "failed": str(exc)}
    for warning in book.warnings:
        ledger.warn(warning)
    options = message.options
    return queue_book(
        ledger, options.collection, label, book, contextualize=options.contextualize
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
    # A batch index is a fixed slice of the book, so a retried fetch names the same batches: the
    # ledger gives it the same answer on whether this book ends in fine batches.
    batches = split_batches(
        book.chunks,
        batch_limit(resources.settings(), contextualize),
        fine_tail=ledger.last_to_cut(label),
    )
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
    if outcome == Registration.DUPLICATE:
        # Counted fetched and done by register_book, once however often this fetch is sent.
        ledger.warn(f"{label}: same book as another source of this run ({book.book_id}); skipped")
        return {**summary, "batches": 0, "duplicate": True}
    # Chunks already stored keep their vectors but take this source's book fields: the same book
    # read from another edition or place must not show the old one's title or source.
    store.update_book_fields(sorted(stored & wanted), book_info(book, label).model_dump())
    if outcome == Registration.ALREADY_COMPLETE:
        store.delete(ledger.take_stale(book.book_id))
        return summary
    if outcome == Registration.RETRY:
        # This fetch is a redelivery: resend whatever the first attempt may not have stored,
        # whole, because its recorded batch sizes are what the ledger will count.
        todo = {i: batches[i] for i in ledger.pending_batches(book.book_id)}
    elif contextualize:
        ledger.want_contexts(sum(len(c) for c in todo.values()))
    info = book_info(book, label)
    for index, chunks in sorted(todo.items()):
        items = tuple(chunk_item(c) for c in chunks)
        if contextualize:
            # Embedding waits for the contexts: the llm task sends the batch on when done.
            first = chunks[0].position
            contextualize_batch.send(
                ContextualizeBatch(
                    run_id=ledger.run_id, collection=collection, book=info, index=index,
                    chunks=items, before=book.chunks[first - 1].text if first > 0 else "",
                )
            )
            continue
        embed_batch.send(
            EmbedBatch(
                run_id=ledger.run_id, collection=collection, book=info, index=index, chunks=items
            )
        )
    return summary


T = TypeVar("T")

# One thread works through a contextualize batch call by call, so the LLM stage wants small
# batches: a book of 500 chunks then keeps 8 of LLM_THREADS busy rather than 2.
CONTEXT_BATCH_CHUNKS = 64


def batch_limit(settings: Settings, contextualize: bool) -> int:
    """Most chunks a batch of this run may hold."""
    if contextualize:
        return min(settings.batch_chunks, CONTEXT_BATCH_CHUNKS)
    return settings.batch_chunks


# The run's last book ends in batches of a quarter of the limit (64 chunks of 256), its last
# FINE_TAIL_BATCHES of them. Its batches are the last queued, so the run ends on short tasks:
# with 256-chunk tasks, a 2,000-chunk run on 2 embed processes otherwise ended with one process
# alone for up to the length of one task (3 s of 20). A book that is the whole run is spread
# over up to FINE_TAIL_BATCHES processes by its fine batches.
FINE_DIVISOR = 4
FINE_TAIL_BATCHES = 16


def split_batches(chunks: list[T], limit: int, *, fine_tail: bool = False) -> list[list[T]]:
    """Consecutive batches of at most `limit` chunks whose sizes differ by one at most; with
    `fine_tail`, the last chunks are cut in FINE_TAIL_BATCHES batches of `limit` /
    FINE_DIVISOR at most.

    Even sizes keep a book's tasks equally long: 300 chunks under a limit of 256 are two
    tasks of 150, not one of 256 that a second process finishes long before.
    """
    if not fine_tail:
        return even_batches(chunks, limit)
    fine = max(1, limit // FINE_DIVISOR)
    cut = max(0, len(chunks) - FINE_TAIL_BATCHES * fine)
    return even_batches(chunks[:cut], limit) + even_batches(chunks[cut:], fine)


def even_batches(chunks: list[T], limit: int) -> list[list[T]]:
    """The fewest consecutive batches of at most `limit` chunks, sizes differing by one at most."""
    count = -(-len(chunks) // limit)
    return [chunks[len(chunks) * i // count : len(chunks) * (i + 1) // count] for i in range(count)]


def book_info(book: Book, label: str) -> BookInfo:
    return BookInfo(
        book_id=book.book_id,
        title=book.meta.title,
        author=book.meta.author,
        language=book.meta.language,
        source=label,
    )


def chunk_item(chunk: Chunk) -> ChunkItem:
    first, last = chunk.pages or (None, None)
    return ChunkItem(
        id=chunk.id, position=chunk.position, text=chunk.text, tokens=chunk.n_tokens,
        chapter=chunk.chapter, page_first=first, page_last=last,
    )
