"""Questions (query, ask, the search service) embed through the endpoint under the workers' limit.

A question encoder (EmbeddingBackend.question_encoder) reaches the cluster's Redis through
REDIS_URL, so a question counts against the same requests and tokens as every worker, waits while
the limit is spent, is refused in one line past EMBED_TIMEOUT, and a 429 it meets pauses the
workers too. Real redis-server, the local embeddings server with its own window.
"""

from __future__ import annotations

import time

import pytest
import redis

from tasks.embedding.backend import EmbeddingBackend, TextEncoder
from tasks.embedding.errors import EmbedLimitBusy
from tasks.embedding.remote import RemoteEmbedder, make_limiter
from tasks.settings import RemoteEmbedSettings, Settings
from tests.support.embeddings_server import MODEL, EmbeddingsServer, serve_embeddings

RPM = 3
WINDOW = 3.0


def remote_settings(server: EmbeddingsServer, timeout: float) -> RemoteEmbedSettings:
    return RemoteEmbedSettings(
        base_url=server.url, rpm=RPM, window_seconds=WINDOW, timeout=timeout, max_inputs=1,
        limit_name="questions",
    )


def question_settings(server: EmbeddingsServer, redis_url: str, timeout: float) -> Settings:
    """What `ragmill query` reads from EMBED_* and REDIS_URL."""
    return Settings(
        redis_url=redis_url, embed_backend="openai", model=MODEL,
        remote_embed=remote_settings(server, timeout),
    )


def spend_the_window(server: EmbeddingsServer, client: redis.Redis) -> float:
    """Send RPM requests as a worker would; returns when the first of them was answered."""
    settings = remote_settings(server, 5.0)
    worker = RemoteEmbedder(settings, MODEL, make_limiter(settings, MODEL, client))
    worker.embed([f"worker text {i}" for i in range(RPM)])
    return min(s.at for s in server.accepted())


def test_a_question_waits_for_the_shared_window_and_never_goes_over_it(
    redis_client: redis.Redis, own_redis_url: str
) -> None:
    with serve_embeddings(rpm=RPM, window=WINDOW) as server:
        first = spend_the_window(server, redis_client)
        embedder = question_encoder(question_settings(server, own_redis_url, timeout=10.0))
        vector = embedder.encode(["who keeps the lighthouse?"])
        assert vector.shape == (1, 384)
        assert server.violations == [], "the question went over the endpoint's window"
        question = server.log[-1]
        assert question.status == 200 and question.at >= first + WINDOW - 0.05
        assert server.max_in_window()[0] == RPM


def test_a_question_that_would_wait_past_embed_timeout_fails_in_one_line_unsent(
    redis_client: redis.Redis, own_redis_url: str
) -> None:
    with serve_embeddings(rpm=RPM, window=WINDOW) as server:
        spend_the_window(server, redis_client)
        seen = server.requests_seen()
        embedder = question_encoder(question_settings(server, own_redis_url, timeout=0.5))
        started = time.monotonic()
        with pytest.raises(EmbedLimitBusy) as caught:
            embedder.encode(["who keeps the lighthouse?"])
        assert time.monotonic() - started < 2.0, "it waited past its bound"
        message = str(caught.value)
        assert "\n" not in message and "EMBED_TIMEOUT=0.5" in message
        assert f"{server.url}/embeddings" in message
        assert server.requests_seen() == seen, "a request was sent over the limit"


def test_a_429_met_by_a_question_pauses_the_workers_too(
    redis_client: redis.Redis, own_redis_url: str
) -> None:
    with serve_embeddings() as server:
        server.fail_next(1, "429", retry_after=1.5)
        question_encoder(question_settings(server, own_redis_url, timeout=10.0)).encode(["a"])
        notice = server.notices[0]
        settings = remote_settings(server, 5.0)
        worker = RemoteEmbedder(settings, MODEL, make_limiter(settings, MODEL, redis_client))
        worker.embed(["worker text"])
        # The worker shares the question's limit, so it waited out the question's 429 as well.
        assert server.log[-1].at >= notice.until - 0.05
        assert server.early_requests(grace=0.0) == []


def question_encoder(settings: Settings) -> TextEncoder:
    return EmbeddingBackend.from_settings(settings).question_encoder()
