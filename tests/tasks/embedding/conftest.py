"""Fixtures of the embedding tests: a model cache of this folder's own, real chunks from real
books, a real redis-server and the local OpenAI-compatible embeddings server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.bench.corpus import BenchCorpus
from tasks.settings import Settings
from tests.support.embeddings_server import EmbeddingsServer, serve_embeddings
from tests.support.models import model_cache_at
from tests.support.shared import require_gutenberg_books


@pytest.fixture(scope="package")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with model_cache_at(tmp_path_factory.mktemp("embedding-model-cache")) as cache:
        yield cache


@pytest.fixture(scope="package")
def real_chunks() -> list[str]:
    """40 real chunks from four books, of many lengths, plus two short texts."""
    corpus = BenchCorpus(require_gutenberg_books(), Settings())
    chunks: list[str] = []
    for book in corpus.ids[:4]:
        chunks += corpus.chunk_texts(book, 800)[5:15]
    return [*chunks, "A whale.", "Steam trains."]


@pytest.fixture(scope="module")
def embed_redis_url(own_redis_url: str) -> str:
    return own_redis_url


@pytest.fixture
def server() -> Iterator[EmbeddingsServer]:
    with serve_embeddings() as running:
        yield running

