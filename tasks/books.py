"""Turns a source reference from a task message into a chunked `Book`.

Downloads happen here, in the io worker's thread; extraction and chunking, which are CPU work,
in the worker's extraction processes (tasks/extraction.py).
"""

from __future__ import annotations

from corpus.book import Book, local_book_id
from corpus.decode import decode_text
from tasks import resources
from tasks.extraction import PrepareJob, prepare_in_process
from tasks.messages import BookOptions, SourceRef


def load_book(source: SourceRef, options: BookOptions, data: bytes | None = None) -> Book:
    """Download (or take the client's `data` for local files), extract, strip and chunk a source.

    Raises corpus.errors.CorpusError with a one-line reason naming the source.
    """
    downloader = resources.downloader(options.mirror)
    name, gutenberg_id = source.label, None
    if source.kind == "gutenberg":
        name, gutenberg_id = f"book {source.ref}", source.ref
        data = downloader.fetch_gutenberg(source.ref)
        # The mirror's text edition must be text: an HTML page in its place is a mirror's error
        # page, not the book, and decode_text refuses it with a line saying so.
        decode_text(data, name)
        fallback_id = source.ref
    else:
        if source.kind == "url":
            data = downloader.fetch_url(source.ref)
        elif data is None:
            # Local files are read by the client, which may be on another machine.
            raise ValueError(f"{name}: a file source arrived without its bytes")
        stem = source.ref.rstrip("/").rsplit("/", 1)[-1]
        fallback_id = local_book_id(stem, source.ref)
    return prepare_in_process(
        PrepareJob(
            data=data,
            name=name,
            fallback_id=fallback_id,
            gutenberg_id=gutenberg_id,
            chunk_tokens=options.chunk_tokens,
            chunk_overlap=options.chunk_overlap,
            max_bytes=resources.settings().max_book_bytes,
        )
    )
