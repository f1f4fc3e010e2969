"""The search service over an embeddings endpoint that fails: one line of JSON, never the key.

The service's questions are embedded by the real RemoteEmbedder against the local embeddings
server; a refused key is what the endpoint said (502), a shared limit spent past the question's
bound passes (503).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from pipeline.search.library import Library
from pipeline.serve.app import create_app
from tasks.embedding.remote import remote_embedder
from tasks.settings import RemoteEmbedSettings, Settings
from tests.support.embeddings_server import MODEL, serve_embeddings
from tests.support.servers import redis_server

pytestmark = pytest.mark.e2e

WRONG_KEY = "sk-wrong-key-0123456789"


def search(library: Settings, embedder: object) -> tuple[int, str]:
    with TestClient(create_app(Library(settings=library, embedder=embedder))) as client:
        reply = client.get("/api/search", params={"q": "whales", "k": 2})
    return reply.status_code, reply.text


def test_a_refused_key_is_one_line_502_naming_the_endpoint_not_the_key(library: Settings) -> None:
    with serve_embeddings(api_key="sk-right-key-0123456789") as server:
        settings = Settings(embed_backend="openai", model=MODEL, remote_embed=RemoteEmbedSettings(
            base_url=server.url, api_key=WRONG_KEY))
        status, text = search(library, remote_embedder(settings, None))
    assert status == 502, text
    assert text.startswith('{"error":') and "\n" not in text
    assert server.url in text and WRONG_KEY not in text


def test_a_shared_limit_spent_past_the_bound_is_one_line_503(
    library: Settings, tmp_path: Path
) -> None:
    rpm = 2
    with redis_server(tmp_path / "redis") as redis_url, serve_embeddings(
        rpm=rpm, window=30.0
    ) as server:
        settings = Settings(embed_backend="openai", model=MODEL, remote_embed=RemoteEmbedSettings(
            base_url=server.url, rpm=rpm, window_seconds=30.0, max_inputs=1, timeout=0.5,
            limit_name="service-questions"))
        embedder = remote_embedder(settings, redis.Redis.from_url(redis_url), max_wait=0.5)
        embedder.encode(["a worker's text", "another worker's text"])  # the window is spent
        seen = server.requests_seen()
        status, text = search(library, embedder)
        assert server.requests_seen() == seen, "the question went over the limit"
    assert status == 503, text
    assert text.startswith('{"error":') and "\n" not in text and "EMBED_TIMEOUT" in text
