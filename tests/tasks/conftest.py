"""Fixtures shared by the LLM and embedding tests: a real redis-server of the module's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.support.servers import redis_server


@pytest.fixture(scope="module")
def own_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_client(own_redis_url: str) -> Iterator[redis.Redis]:
    """A client of the module's redis-server, emptied before each test."""
    client = redis.Redis.from_url(own_redis_url)
    client.flushdb()
    yield client
    client.close()
