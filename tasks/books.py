"""Turns a source reference from a task message into a chunked `Book`."""

from __future__ import annotations

from corpus.book import Book, local_book_id, prepare_book
from corpus.decode import decode_text
from tasks import resources
from tasks.messages import BookOptions, SourceRef


def load_book(source: SourceRef, options: BookOptions, data: bytes | None = None) -> Book:
    """Download (or take the client's `data` for local files), extract, strip and chunk a source.

    Raises corpus.errors.CorpusError with a one-line reason naming the source.
    """
    config = resources.chunk_config(options.chunk_tokens, options.chunk_overlap)
    tokenizer = resources.tokenizer()
    downloader = resources.downloader(options.mirror)
    max_bytes = resources.settings().max_book_bytes
    name = source.label
    if source.kind == "gutenberg":
        data = downloader.fetch_gutenberg(source.ref)
        # The mirror's text edition must be text: an HTML page in its place is a mirror's error
        # page, not the book, and decode_text refuses it with a line saying so.
        decode_text(data, f"book {source.ref}")
        return prepare_book(
            data,
            name=f"book {source.ref}",
            tokenizer=tokenizer,
            config=config,
            gutenberg_id=source.ref,
            fallback_id=source.ref,
            max_bytes=max_bytes,
        )
    if source.kind == "url":
        data = downloader.fetch_url(source.ref)
    elif data is None:
        # Local files are read by the client, which may be on another machine than this worker.
        raise ValueError(f"{name}: a file source arrived without its bytes")
    stem = source.ref.rstrip("/").rsplit("/", 1)[-1]
    return prepare_book(
        data,
        name=name,
        tokenizer=tokenizer,
        config=config,
        fallback_id=local_book_id(stem, source.ref),
        max_bytes=max_bytes,
    )
