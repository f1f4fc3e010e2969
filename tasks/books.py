"""Turns a source reference from a task message into a chunked `Book`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from corpus.book import Book, local_book_id, prepare_book
from corpus.sources import Source
from tasks import resources


@dataclass(frozen=True, kw_only=True)
class BookOptions:
    """Per-ingest choices that travel with each fetch task, so any worker can serve any run."""

    mirror: str
    chunk_tokens: int
    chunk_overlap: int
    collection: str
    # Ask the LLM stage for each chunk's context before it is embedded.
    contextualize: bool = False

    def to_message(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> BookOptions:
        return cls(
            mirror=str(data["mirror"]),
            chunk_tokens=int(data["chunk_tokens"]),
            chunk_overlap=int(data["chunk_overlap"]),
            collection=str(data["collection"]),
            contextualize=bool(data.get("contextualize", False)),
        )


def load_book(source: Source, options: BookOptions, text: str | None = None) -> Book:
    """Download (or take the client's `text` for local files), decode, strip and chunk a source.

    Raises corpus.errors.CorpusError with a one-line reason naming the source.
    """
    config = resources.chunk_config(options.chunk_tokens, options.chunk_overlap)
    tokenizer = resources.tokenizer()
    downloader = resources.downloader(options.mirror)
    name = source.label
    if source.kind == "gutenberg":
        data = downloader.fetch_gutenberg(source.ref)
        return prepare_book(
            data,
            name=f"book {source.ref}",
            tokenizer=tokenizer,
            config=config,
            gutenberg_id=source.ref,
            fallback_id=source.ref,
        )
    if source.kind == "url":
        data = downloader.fetch_url(source.ref)
    else:
        # Local files are read by the client, which may be on another machine than this worker.
        if text is None:
            raise ValueError(f"{name}: a file source arrived without its text")
        data = text.encode("utf-8")
    stem = source.ref.rstrip("/").rsplit("/", 1)[-1]
    return prepare_book(
        data,
        name=name,
        tokenizer=tokenizer,
        config=config,
        fallback_id=local_book_id(stem, source.ref),
    )
