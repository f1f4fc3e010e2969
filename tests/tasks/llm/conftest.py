"""Fixtures for the LLM stage: the local OpenAI-compatible server.

The real redis-server is tests/tasks/conftest.py's `own_redis_url`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.chat_server import LLMServer, serve_llm


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    with serve_llm() as server:
        yield server

