"""Fixtures of the embedding tests: a model cache of this folder's own, real chunks from real
books, a real redis-server and the local OpenAI-compatible embeddings server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.chunks import real_book_chunks
from tests.support.embeddings_server import EmbeddingsServer, serve_embeddings
from tests.support.models import model_cache_at


@pytest.fixture(scope="package")
def model_cache(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Path]:
    """One cache for this folder's tests in every xdist process of the session: exports take
    a file lock (tasks/embedding/cache.py), so the static int8 calibration runs once, not once
    a process."""
    if worker_id == "master":
        cache = tmp_path_factory.mktemp("embedding-model-cache")
    else:
        cache = tmp_path_factory.getbasetemp().parent / "embedding-model-cache"
        cache.mkdir(exist_ok=True)
    with model_cache_at(cache) as chosen:
        yield chosen


@pytest.fixture(scope="package")
def real_chunks() -> list[str]:
    """40 real chunks from four books, of many lengths, plus two short texts."""
    return [*real_book_chunks(books=4, per_book=10), "A whale.", "Steam trains."]


@pytest.fixture(scope="module")
def embed_redis_url(own_redis_url: str) -> str:
    return own_redis_url


@pytest.fixture
def server() -> Iterator[EmbeddingsServer]:
    with serve_embeddings() as running:
        yield running

