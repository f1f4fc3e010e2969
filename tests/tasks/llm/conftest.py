"""Fixtures for the LLM stage: a real redis-server and the local OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.chat_server import LLMServer, serve_llm


@pytest.fixture(scope="module")
def llm_redis_url(own_redis_url: str) -> str:
    return own_redis_url


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    with serve_llm() as server:
        yield server

