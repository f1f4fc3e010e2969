"""One book from bytes to chunks: detect the format, extract, strip boilerplate, chunk."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from tokenizers import Tokenizer

from corpus.chunking import Chunk, ChunkConfig, chunk_sections
from corpus.errors import DecodeError
from corpus.formats.extract import DEFAULT_MAX_BYTES, extract_document
from corpus.metadata import BookMeta

__all__ = ["Book", "local_book_id", "prepare_book"]

_SLUG_LENGTH = 40
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Book:
    """A prepared book: its id, what its header says, its chunks and anything worth a warning."""

    book_id: str
    meta: BookMeta
    chunks: list[Chunk]
    warnings: list[str]
    # The format the bytes were read as: txt, md, html, epub, docx or pdf.
    format: str = "txt"


def local_book_id(name: str, identity: str) -> str:
    """An id for a book without a Gutenberg number: readable slug plus a hash of where it is.

    The hash of ``identity`` (an absolute path or a URL) keeps two ``a.txt`` in different
    folders apart; the slug keeps the id recognisable.
    """
    stem = PurePosixPath(name.replace("\\", "/")).stem.lower()
    slug = _NOT_SLUG.sub("-", stem).strip("-")[:_SLUG_LENGTH].strip("-") or "book"
    return f"{slug}-{hashlib.sha256(identity.encode('utf-8')).hexdigest()[:8]}"


def prepare_book(
    data: bytes,
    *,
    name: str,
    tokenizer: Tokenizer,
    config: ChunkConfig,
    gutenberg_id: str | None = None,
    fallback_id: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Book:
    """Turn a book's raw bytes, in any supported format, into chunks ready to embed.

    The id is ``gutenberg_id`` when given, else the eBook number the document declares (text
    header, EPUB identifier, Markdown front matter, HTML header), else ``fallback_id``; so one
    Gutenberg book read from its text, EPUB, HTML or Markdown edition gets one id.
    ``max_bytes`` caps what an EPUB or DOCX may unpack to. Raises a DecodeError (or a
    subclass) naming ``name`` when nothing usable is left.
    """
    document = extract_document(data, name, max_bytes=max_bytes)
    meta = document.meta
    warnings: list[str] = []
    if gutenberg_id and meta.gutenberg_id and meta.gutenberg_id != gutenberg_id:
        warnings.append(
            f"{name}: header says eBook #{meta.gutenberg_id} but it was fetched as "
            f"#{gutenberg_id}; keeping #{gutenberg_id}"
        )
    book_id = gutenberg_id or meta.gutenberg_id or fallback_id
    meta = replace(
        meta,
        title=meta.title or _display_name(name),
        gutenberg_id=gutenberg_id or meta.gutenberg_id,
    )
    if document.format == "txt" and not document.had_markers:
        warnings.append(f"{name}: no Gutenberg markers found; ingested whole")
    chunks = chunk_sections(document.sections, book_id=book_id, tokenizer=tokenizer, config=config)
    if not chunks:
        raise DecodeError(
            f"{name}: no text left after removing Gutenberg boilerplate; check the source"
        )
    return Book(
        book_id=book_id, meta=meta, chunks=chunks, warnings=warnings, format=document.format
    )


def _display_name(name: str) -> str:
    """The last part of a path or URL, for a title when the header has none."""
    path = urlsplit(name).path if "://" in name else name
    return PurePosixPath(path.replace("\\", "/")).name or name
