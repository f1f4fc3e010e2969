"""Turns a source reference from a task message into a chunked `Book`.

Downloads happen here, in the io worker's thread; extraction and chunking, which are CPU work,
in the worker's extraction processes (tasks/extraction.py).
"""

from __future__ import annotations

from corpus.book import Book, local_book_id
from corpus.decode import decode_text
from corpus.errors import DecodeError
from corpus.formats.detect import detect_format
from tasks import resources
from tasks.extraction import PrepareJob, prepare_in_process
from tasks.messages import BookOptions, SourceRef

_EDITION_NAMES = {"epub": "EPUB", "html": "HTML"}


def fetch_edition(book_id: str, options: BookOptions) -> bytes:
    """The bytes of Gutenberg book `book_id` in the edition the run asked for.

    Raises a CorpusError when the mirror sent something that is not that edition.
    """
    edition = options.gutenberg_edition
    data = resources.downloader(options.mirror).fetch_gutenberg(book_id, edition)
    name = f"book {book_id}"
    if edition == "txt":
        # The text edition must be text: an HTML page in its place is a mirror's error page,
        # not the book, and decode_text refuses it with a line saying so. Only text is decoded
        # here; an EPUB is bytes, read by the extractor.
        decode_text(data, name)
    elif detect_format(data, name) != edition:
        kind = _EDITION_NAMES[edition]
        raise DecodeError(
            f"{name}: the mirror's {kind} edition is not {kind}; check --mirror or use "
            "--gutenberg-edition txt"
        )
    return data


def load_book(source: SourceRef, options: BookOptions, data: bytes | None = None) -> Book:
    """Download (or take the client's `data` for local files), extract, strip and chunk a source.

    Raises corpus.errors.CorpusError with a one-line reason naming the source.
    """
    name, gutenberg_id = source.label, None
    if source.kind == "gutenberg":
        name, gutenberg_id = f"book {source.ref}", source.ref
        data = fetch_edition(source.ref, options)
        fallback_id = source.ref
    else:
        if source.kind == "url":
            data = resources.downloader(options.mirror).fetch_url(source.ref)
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
