"""Fixtures of the embedding tests: a model cache of this folder's own, real chunks from real
books, a real redis-server and the local OpenAI-compatible embeddings server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pipeline.bench.corpus import BenchCorpus
from tasks.settings import Settings
from tests.support.embeddings_server import EmbeddingsServer, serve_embeddings
from tests.support.servers import redis_server
from tests.support.shared import require_gutenberg_books


@pytest.fixture(scope="package")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("embedding-model-cache")
    saved = os.environ.get("RAGMILL_MODEL_CACHE")
    os.environ["RAGMILL_MODEL_CACHE"] = str(cache)
    yield cache
    if saved is None:
        os.environ.pop("RAGMILL_MODEL_CACHE", None)
    else:
        os.environ["RAGMILL_MODEL_CACHE"] = saved


@pytest.fixture(scope="package")
def real_chunks() -> list[str]:
    """40 real chunks from four books, of many lengths, plus two short texts."""
    corpus = BenchCorpus(require_gutenberg_books(), Settings())
    chunks: list[str] = []
    for book in corpus.ids[:4]:
        chunks += corpus.chunk_texts(book, 800)[5:15]
    return [*chunks, "A whale.", "Steam trains."]


@pytest.fixture(scope="module")
def embed_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("embed-redis")) as url:
        yield url


@pytest.fixture
def redis_client(embed_redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(embed_redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def server() -> Iterator[EmbeddingsServer]:
    with serve_embeddings() as running:
        yield running


def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir(exist_ok=True)
    return path
