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
    """An embedder for questions; an endpoint's requests count against the shared limit when
    `redis_client` (the cluster's Redis) is given."""
    if settings.remote_embedding:
        from tasks.embedding.remote import remote_embedder

        return remote_embedder(settings, redis_client)
    from tasks.embedding.embedder import Embedder

    return Embedder(
        settings.model, backend=settings.embed_backend, variant=settings.embed_variant or None
    )
