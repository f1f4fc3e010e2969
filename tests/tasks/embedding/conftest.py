"""Fixtures for remote embedding: a real redis-server and the local embeddings server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.embeddings_server import EmbeddingsServer, serve_embeddings
from tests.support.servers import redis_server


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
