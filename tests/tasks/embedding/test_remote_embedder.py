"""RemoteEmbedder against the local embeddings server and a real redis-server: the vectors, the
shared limit, 429 pauses, retries, and the final errors a person reads."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import redis

from tasks.embedding.errors import EmbedBatchTooLarge, EmbedRequestRejected, MalformedEmbedReply
from tasks.embedding.remote import RemoteEmbedder, make_limiter
from tasks.settings import RemoteEmbedSettings
from tests.support.embeddings_server import MODEL, EmbeddingsServer, model, serve_embeddings

TEXTS = [f"Chapter {i}: the whale swam past the ship number {i}." for i in range(10)]


def embedder(
    server: EmbeddingsServer, client: redis.Redis | None, **options: object
) -> RemoteEmbedder:
    settings = RemoteEmbedSettings(base_url=server.url, timeout=5.0, **options)  # type: ignore[arg-type]
    limiter = make_limiter(settings, MODEL, client) if client is not None else None
    return RemoteEmbedder(settings, MODEL, limiter)


def test_vectors_are_the_models_unit_rows_in_input_order(
    server: EmbeddingsServer, redis_client: redis.Redis
) -> None:
    remote = embedder(server, redis_client, max_inputs=4)
    embedded = remote.embed(TEXTS)
    local = model().encode(TEXTS)
    assert embedded.vectors.dtype == np.float32 and embedded.vectors.shape == local.shape
    assert np.allclose(np.linalg.norm(embedded.vectors, axis=1), 1.0, atol=1e-5)
    assert np.all(np.sum(embedded.vectors * local, axis=1) > 0.9999)
    # 10 inputs, at most 4 per request.
    assert embedded.requests == 3 == server.requests_seen()
    assert embedded.tokens == sum(s.tokens for s in server.accepted())
    assert remote.dimension == 384 and remote.backend == "openai" and remote.model_name == MODEL


def test_threads_of_two_processes_never_exceed_the_shared_window(
    redis_client: redis.Redis, embed_redis_url: str
) -> None:
    with serve_embeddings(rpm=6, window=2.0, latency=0.05) as server:
        # Two limiter instances over their own connections stand for two worker processes.
        a = embedder(server, redis_client, rpm=6, window_seconds=2.0, max_inputs=1)
        b = embedder(server, redis.Redis.from_url(embed_redis_url), rpm=6, window_seconds=2.0,
                     max_inputs=1)
        threads = [threading.Thread(target=e.embed, args=(TEXTS[:5],)) for e in (a, b, a, b)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(server.accepted()) == 20
        assert server.violations == []
        assert server.max_in_window()[0] <= 6
        # 20 requests at 6 per 2 s need at least three full windows.
        assert time.monotonic() - started >= 6.0


def test_a_429_pauses_every_process_until_its_retry_after(
    server: EmbeddingsServer, redis_client: redis.Redis, embed_redis_url: str
) -> None:
    a = embedder(server, redis_client, max_inputs=1)
    b = embedder(server, redis.Redis.from_url(embed_redis_url), max_inputs=1)
    server.fail_next(1, "429", retry_after=1.5)
    first = threading.Thread(target=a.embed, args=(TEXTS[:1],))
    first.start()
    time.sleep(0.3)  # a's request met the 429 and paused the limit
    b.embed(TEXTS[1:3])
    first.join(30)
    limited = next(s for s in server.log if s.status == 0)
    later = [s.at for s in server.log if s.at > limited.at]
    assert len(later) == 3 and min(later) >= limited.at + 1.5 - 0.05


def test_server_errors_are_retried_with_backoff(
    server: EmbeddingsServer, redis_client: redis.Redis
) -> None:
    server.fail_next(2, "500")
    embedded = embedder(server, redis_client).embed(TEXTS[:3])
    assert embedded.requests == 3 and embedded.vectors.shape == (3, 384)


@pytest.mark.parametrize(
    ("kind", "error", "names"),
    [
        ("401", EmbedRequestRejected, "EMBED_API_KEY"),
        ("413", EmbedBatchTooLarge, "EMBED_MAX_INPUTS"),
        ("bad-json", MalformedEmbedReply, "EMBED_BASE_URL"),
        ("few-vectors", MalformedEmbedReply, "3 inputs were sent"),
        ("wrong-dim", MalformedEmbedReply, "EMBED_DIMENSIONS=384"),
    ],
)
def test_final_errors_are_one_line_naming_the_endpoint_and_what_to_change(
    server: EmbeddingsServer, redis_client: redis.Redis, kind: str, error: type, names: str
) -> None:
    server.fail_next(1, kind)
    remote = embedder(server, redis_client, dimensions=384, api_key="sk-very-secret")
    with pytest.raises(error) as caught:
        remote.embed(TEXTS[:3])
    message = str(caught.value)
    assert server.requests_seen() == 1, "a final error is not retried"
    assert f"{server.url}/embeddings" in message and names in message
    assert "\n" not in message and "sk-very-secret" not in message


def test_a_wrong_key_is_refused_without_showing_it(redis_client: redis.Redis) -> None:
    with serve_embeddings(api_key="right-key") as server:
        with pytest.raises(EmbedRequestRejected) as caught:
            embedder(server, redis_client, api_key="wrong-key-abc").embed(TEXTS[:1])
        assert "401" in str(caught.value) and "wrong-key-abc" not in str(caught.value)
        assert embedder(server, redis_client, api_key="right-key").embed(TEXTS[:1]).requests == 1


def test_a_batch_over_the_endpoints_input_cap_names_the_setting(
    redis_client: redis.Redis,
) -> None:
    with serve_embeddings(max_inputs=2) as server:
        with pytest.raises(EmbedBatchTooLarge, match="EMBED_MAX_INPUTS"):
            embedder(server, redis_client, max_inputs=8).embed(TEXTS[:5])
        assert embedder(server, redis_client, max_inputs=2).embed(TEXTS[:5]).requests == 3
