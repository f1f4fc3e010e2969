"""A real Chroma server holding a small library of three books, embedded with the real model.

Chunks are written through ChunkStore as the embed task writes them (book metadata, position,
and for one book chapter and pages), so search, filters, listing and deletion run against
exactly what an ingest stores, without the minutes an ingest through workers would take.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.stack.processes import free_port
from tasks.collection_record import claim
from tasks.embedding import Embedder
from tasks.settings import Settings
from tasks.store import ChunkStore, Metadata
from tests.conftest import RAGMILL
from tests.support.books import SUBJECTS
from tests.support.chat_server import serve_llm
from tests.support.servers import chroma_server
from tests.support.waiting import wait_for_server

LANGUAGES = {"1001": "en", "1002": "en", "1003": "fr"}
LIBRARY = "library"


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("search-chroma")) as url:
        yield url


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    settings = Settings.from_env()
    return Embedder(settings.model, backend=settings.embed_backend,
                    variant=settings.embed_variant or None)


def book_chunks(book_id: str) -> tuple[list[str], list[str], list[Metadata]]:
    """Ids, texts and metadata of one book: one chunk per sentence of its subject."""
    title, author, sentences = SUBJECTS[book_id]
    ids, metadatas = [], []
    for position, _ in enumerate(sentences):
        ids.append(f"{book_id}-{position:05d}")
        meta: Metadata = {
            "book_id": book_id, "title": title, "author": author,
            "language": LANGUAGES[book_id], "source": f"gutenberg:{book_id}",
            "position": position, "tokens": 20,
        }
        if book_id == "1002":  # a book whose format records chapters and pages
            meta.update(chapter=f"Chapter {position // 3 + 1}", page_first=position + 1,
                        page_last=position + 2)
        metadatas.append(meta)
    return ids, list(sentences), metadatas


def fill(store: ChunkStore, embedder: Embedder, books: tuple[str, ...] = tuple(SUBJECTS)) -> None:
    for book_id in books:
        ids, texts, metadatas = book_chunks(book_id)
        store.upsert(ids, embedder.encode(texts), texts, metadatas)


@pytest.fixture(scope="session")
def library(chroma_url: str, embedder: Embedder,
            tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings that point at a collection holding the three books (never changed by tests);
    the collection records what made its vectors, as an ingest's does, and the data directory
    holds only caches (the keyword index)."""
    settings = Settings.from_env().with_changes(chroma_url=chroma_url, collection=LIBRARY,
                                                data_dir=tmp_path_factory.mktemp("data"))
    store = ChunkStore.connect(chroma_url, LIBRARY)
    claim(store, settings)
    fill(store, embedder)
    return settings


@dataclass
class Service:
    """A running `ragmill serve` process and the environment it was started with."""

    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]


@contextmanager
def serve_process(library: Settings, log: Path, *, host: str = "127.0.0.1",
                  **extra_env: str) -> Iterator[Service]:
    """`ragmill serve` on a free port over the library collection, stopped when the block ends."""
    port = free_port()
    env = {**os.environ, "CHROMA_URL": str(library.chroma_url),
           "RAGMILL_COLLECTION": library.collection, "HF_HUB_OFFLINE": "1", **extra_env}
    env.pop("REDIS_URL", None)
    with open(log, "wb") as out:
        process = subprocess.Popen([RAGMILL, "serve", "--host", host, "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(process, log, f"{url}/health", "ragmill serve's /health",
                        ready=lambda r: r.status_code == 200)
        yield Service(url, env, process)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def service(library: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`ragmill serve` over the library, with a local chat server for ask; one per module."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with serve_llm() as llm, serve_process(library, log, LLM_BASE_URL=llm.url,
                                           LLM_MODEL="test-model") as running:
        yield running
