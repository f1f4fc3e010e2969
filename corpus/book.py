"""One book from bytes to chunks: decode, read the header, strip boilerplate, chunk."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from tokenizers import Tokenizer

from corpus.boilerplate import strip_boilerplate
from corpus.chunking import Chunk, ChunkConfig, chunk_text
from corpus.decode import decode_text
from corpus.errors import DecodeError
from corpus.metadata import BookMeta, read_header

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
) -> Book:
    """Turn a book's raw bytes into chunks ready to embed.

    The id is ``gutenberg_id`` when given, else the header's eBook number, else
    ``fallback_id``. Raises DecodeError when nothing is left to chunk.
    """
    text = decode_text(data, name)
    meta = read_header(text)
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
    stripped = strip_boilerplate(text)
    if not stripped.had_markers:
        warnings.append(f"{name}: no Gutenberg markers found; ingested whole")
    chunks = chunk_text(stripped.body, book_id=book_id, tokenizer=tokenizer, config=config)
    if not chunks:
        raise DecodeError(
            f"{name}: no text left after removing Gutenberg boilerplate; check the source"
        )
    return Book(book_id=book_id, meta=meta, chunks=chunks, warnings=warnings)


def _display_name(name: str) -> str:
    """The last part of a path or URL, for a title when the header has none."""
    path = urlsplit(name).path if "://" in name else name
    return PurePosixPath(path.replace("\\", "/")).name or name
