"""Fixtures for the LLM stage: a real redis-server and the local OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.chat_server import LLMServer, serve_llm
from tests.support.servers import redis_server


@pytest.fixture(scope="module")
def llm_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("llm-redis")) as url:
        yield url


@pytest.fixture
def redis_client(llm_redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(llm_redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    with serve_llm() as server:
        yield server


def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir(exist_ok=True)
    return path
