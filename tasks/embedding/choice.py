"""The embedder that query and ask use: the local model or the endpoint, as EMBED_BACKEND says."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import redis

from tasks.settings import Settings


class TextEncoder(Protocol):
    """What the store, the collection record and the query side need of an embedder."""

    model_name: str
    backend: str

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...


def query_embedder(settings: Settings, redis_client: redis.Redis | None = None) -> TextEncoder:
    """An embedder for questions.

    An endpoint's requests count against the same shared limit as the workers' (requests and
    tokens, and a 429 pauses everyone) in the cluster's Redis: `redis_client`, else REDIS_URL's.
    A question waits for that limit at most EMBED_TIMEOUT seconds, then fails with one line
    (EmbedLimitBusy) rather than hang behind an ingest.
    """
    if settings.remote_embedding:
        from tasks.embedding.remote import remote_embedder

        if redis_client is None and settings.redis_url:
            redis_client = redis.Redis.from_url(settings.redis_url, socket_timeout=10)
        return remote_embedder(
            settings, redis_client, max_wait=settings.remote_embed.timeout
        )
    from tasks.embedding.embedder import Embedder

    return Embedder(
        settings.model, backend=settings.embed_backend, variant=settings.embed_variant or None
    )
