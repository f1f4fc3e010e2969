"""Which embedding backend runs, decided in one place.

`EmbeddingBackend.from_settings(settings)` is the writer's choice (EMBED_BACKEND and friends);
`EmbeddingBackend.from_record(store, settings)` is the reader's: the backend and numeric form the
collection's record names, so a question lands in the vector space its chunks were stored in.
Everything else asks the object (queue, pool, threads, encoders) instead of branching on local
against remote itself.

    local   the model in this process: queue `embed`, prefork, one process per core
    remote  an OpenAI-compatible endpoint: queue `embed-remote`, threads, the shared Redis limit
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import redis

from tasks import queues
from tasks.settings import Settings, default_model

if TYPE_CHECKING:
    from tasks.embedding.remote import RemoteEmbedder


class TextEncoder(Protocol):
    """What the store, the collection record and the read side need of an embedder."""

    model_name: str
    backend: str

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class EmbeddingBackend:
    """The backend `settings` name: where vectors are made and how the work is served."""

    settings: Settings

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddingBackend:
        return cls(settings)

    @classmethod
    def from_record(cls, store: Any, settings: Settings) -> EmbeddingBackend:
        """The backend that puts questions into `store`'s vector space: the form its record
        names for a local model (RecordMismatch when it cannot), the endpoint when `settings`
        embed remotely and the record agrees."""
        from tasks.collection_record import check_reader, recorded_form

        if settings.remote_embedding:
            check_reader(store, settings)
            return cls(settings)
        backend, variant = recorded_form(store, settings)
        return cls(replace(settings, embed_backend=backend, embed_variant=variant))

    @property
    def remote(self) -> bool:
        """True when an OpenAI-compatible endpoint makes the vectors (EMBED_BACKEND=openai)."""
        return self.settings.remote_embedding

    @property
    def queue(self) -> str:
        return queues.EMBED_REMOTE if self.remote else queues.EMBED

    @property
    def pool(self) -> str:
        """CPU work on processes, waiting on HTTP on threads."""
        return "threads" if self.remote else "prefork"

    @property
    def chunk_model(self) -> str:
        """The model whose tokenizer and window cut chunks: EMBED_MODEL when it runs here, else
        the bundled all-MiniLM-L6-v2 (an endpoint's tokenizer is not at hand; its 256-token
        window keeps chunks well inside any embedding endpoint's)."""
        return default_model() if self.remote else self.settings.model

    def record_dimension(self) -> int:
        """The vectors' dimension as a collection record states it: the local model's, or an
        endpoint's EMBED_DIMENSIONS (0 when unset: its files are not at hand)."""
        if self.remote:
            return self.settings.remote_embed.dimensions or 0
        from tasks.collection_record import model_dimension

        return model_dimension(self.settings.model)

    @property
    def remote_threads(self) -> int:
        """Threads of an embed-remote worker a local stack starts; 0 for a local model."""
        return self.settings.remote_embed.threads if self.remote else 0

    def question_encoder(self, redis_client: redis.Redis | None = None) -> TextEncoder:
        """An embedder for questions.

        An endpoint's requests count against the same shared limit as the workers' (requests
        and tokens, and a 429 pauses everyone) in the cluster's Redis: `redis_client`, else
        REDIS_URL's. A question waits for that limit at most EMBED_TIMEOUT seconds, then fails
        with one line (EmbedLimitBusy) rather than hang behind an ingest.
        """
        if self.remote:
            if redis_client is None and self.settings.redis_url:
                redis_client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=10)
            return self.remote_encoder(redis_client, max_wait=self.settings.remote_embed.timeout)
        return self.local_encoder(batch_size=None)

    def local_encoder(self, batch_size: int | None) -> Any:
        """The local model in this process (an Embedder); `batch_size` None keeps its default."""
        from tasks.embedding.embedder import Embedder

        s = self.settings
        options: dict[str, Any] = {} if batch_size is None else {"batch_size": batch_size}
        return Embedder(s.model, backend=s.embed_backend, variant=s.embed_variant or None,
                        **options)

    def remote_encoder(
        self, redis_client: redis.Redis | None, *, max_wait: float | None = None
    ) -> RemoteEmbedder:
        """The endpoint, under the shared limit when `redis_client` is given, waiting for it at
        most `max_wait` seconds per call when given."""
        from tasks.embedding.remote import remote_embedder

        return remote_embedder(self.settings, redis_client, max_wait=max_wait)
