"""Embedding through an OpenAI-compatible /v1/embeddings endpoint under the shared Redis limit.

`RemoteEmbedder` has the local `Embedder`'s face (`model_name`, `backend`, `dimension`,
`encode(texts) -> unit float32 rows`), so the store, the collection record and the query side
use either. Each request goes

    plan: as many inputs as EMBED_MAX_INPUTS and the request token cap allow (batching.py)
    -> acquire a ticket from the shared limit (waiting) for the tokens the request may cost:
       its honest bound until a reply has shown the endpoint's tokens per byte of text, kept
       beside the shared limit for every process (batching.reservation)
    -> POST /embeddings
    -> settle the ticket with the reply's `usage`
    on 429: pause every process for Retry-After, then go round again
    on 5xx / timeout / connection error: back off (exponential, full jitter), at most
        EMBED_MAX_RETRIES times
    on 401, a malformed reply, a wrong dimension, a batch too large: raise at once (final)

The limiter is the LLM stage's (tasks.endpoint.ratelimit), under its own key prefix and limit name,
so every process on every machine that names the same endpoint and model shares one window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import redis

from tasks.embedding.batching import (
    PlannedRequest,
    plan_requests,
    reservation,
    tokens_per_byte,
)
from tasks.embedding.errors import (
    EmbedLimitBusy,
    MalformedEmbedReply,
)
from tasks.embedding.remote_client import EmbeddingsClient, EmbedReply
from tasks.endpoint.ratelimit.redis_backend import AdmissionTimeout, RedisLimiter
from tasks.endpoint.ratelimit.retrying import call_within_limit
from tasks.endpoint.ratelimit.window import Limits
from tasks.settings import RemoteEmbedSettings, Settings

BACKEND = "openai"
LIMIT_PREFIX = "ragmill:embed:limit"
# An in-flight request counts this much longer than its timeouts (see tasks.llm.engine).
HOLD_MARGIN = 2.0
# Embedded once to learn the dimension when EMBED_DIMENSIONS does not say it.
PROBE_TEXT = "dimension"


@dataclass(frozen=True)
class Embedded:
    """Vectors of one `embed` call and what it cost against the limit: requests sent, and
    tokens (the reply's usage; for a request that failed, the bound it kept reserved).

    With `partial`, `vectors` may cover only the first texts: the shared limit would not admit
    the next request within the caller's wait, and `busy_wait` says how long it named.
    """

    vectors: np.ndarray
    requests: int
    tokens: int
    busy_wait: float = 0.0


def worker_wait_budget(settings: Settings) -> float:
    """Seconds an embed-remote batch may wait for the shared limit before it hands the rest of
    its chunks to a later message: the soft time limit less one request's longest run, so the
    task ends well before the visibility timeout and is never delivered twice while it waits.
    At least a tenth of the visibility timeout, for endpoint timeouts close to it."""
    from tasks.celery_config import time_limits

    soft, _ = time_limits(settings)
    request = settings.remote_embed.timeout + settings.remote_embed.connect_timeout + HOLD_MARGIN
    return max(settings.visibility_timeout / 10, soft - request)


def make_limiter(settings: RemoteEmbedSettings, model: str, client: redis.Redis) -> RedisLimiter:
    """The shared limit of `settings`' endpoint and `model`, kept in `client`'s Redis."""
    return RedisLimiter(
        client,
        settings.limit_key(model),
        Limits(settings.rpm, settings.tpm, settings.window_seconds),
        hold=settings.timeout + settings.connect_timeout + HOLD_MARGIN,
        prefix=LIMIT_PREFIX,
        what="embeddings",
        advice="raise EMBED_TPM or lower EMBED_MAX_REQUEST_TOKENS",
    )


class RemoteEmbedder:
    """Embeds texts through one endpoint; safe to share between the threads of a worker.

    Without a limiter (no cluster Redis: one question from one process) requests go straight out.
    With `max_wait` (seconds; questions) one `embed` call waits at most that long for the limit
    and then raises EmbedLimitBusy; without it (workers' batches) it waits as long as it takes.
    """

    backend = BACKEND

    def __init__(
        self,
        settings: RemoteEmbedSettings,
        model: str,
        limiter: RedisLimiter | None,
        *,
        client_factory: Callable[[], EmbeddingsClient] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float | None = None,
    ) -> None:
        self.settings = settings
        self.max_wait = max_wait
        self.model_name = model
        self.limiter = limiter
        self.url = settings.embeddings_url
        self._new_client = client_factory or (lambda: EmbeddingsClient(settings, model))
        self._sleep = sleep
        self._local = threading.local()
        self._dimension = settings.dimensions

    @property
    def dimension(self) -> int:
        """EMBED_DIMENSIONS, else the length of the vectors the endpoint returns (asked once)."""
        if self._dimension is None:
            self.encode([PROBE_TEXT])
        assert self._dimension is not None
        return self._dimension

    def encode(self, texts: Sequence[str], lengths: Sequence[int] | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in input order.

        `lengths` (the local tokenizer's counts) is accepted for the local Embedder's signature
        and ignored: they are no bound on the endpoint's tokenizer.
        """
        return self.embed(texts).vectors

    def embed(self, texts: Sequence[str], *, partial: bool = False) -> Embedded:
        """Vectors of `texts` and the requests and tokens they cost.

        With `partial`, a limit that would not admit the next request within `max_wait` ends
        the call with the vectors of the texts already embedded (requests already paid for are
        kept) instead of raising EmbedLimitBusy.
        """
        empty = np.zeros((0, self._dimension or 0), dtype=np.float32)
        if not texts:
            return Embedded(empty, 0, 0)
        plan = plan_requests(
            texts,
            max_inputs=self.settings.max_inputs,
            max_tokens=self.settings.request_token_cap,
            endpoint=self.url,
        )
        deadline = None if self.max_wait is None else time.monotonic() + self.max_wait
        parts: list[np.ndarray] = []
        requests_sent = tokens = 0
        busy = 0.0
        for request in plan:
            try:
                reply, sent, charged = self._send(texts, request, deadline)
            except AdmissionTimeout as exc:
                if not partial:
                    raise self._busy(exc.wait) from None
                busy = exc.wait
                break
            self._check_dimension(reply.vectors.shape[1])
            parts.append(reply.vectors)
            requests_sent += sent
            tokens += charged
        vectors = np.concatenate(parts) if parts else empty
        return Embedded(vectors, requests_sent, tokens, busy)

    def _send(
        self, texts: Sequence[str], request: PlannedRequest, deadline: float | None
    ) -> tuple[EmbedReply, int, int]:
        """The reply to one planned request, through the limit and retries; the requests sent
        and the tokens charged to the limit for them."""
        inputs = texts[request.start : request.stop]
        limiter = self.limiter
        reserved = reservation(request, limiter.per_byte() if limiter else None)
        reply, attempts = call_within_limit(
            lambda: self._client().embed(inputs),
            limiter=self.limiter,
            reserved=reserved,
            used_tokens=lambda reply: reply.tokens,
            max_retries=self.settings.max_retries,
            sleep=self._sleep,
            deadline=deadline,
        )
        learned = None if reply.tokens is None else tokens_per_byte(request, reply.tokens)
        if limiter and learned is not None:
            limiter.learn_per_byte(learned)
        used = reserved if reply.tokens is None else reply.tokens
        return reply, attempts.sent, attempts.failed_tokens + used

    def _busy(self, wait: float) -> EmbedLimitBusy:
        s = self.settings
        return EmbedLimitBusy(
            f"{self.url}: the shared limit ({s.rpm} requests and {s.tpm} tokens per "
            f"{s.window_seconds:g} s) admits nothing for {wait:.1f} s, longer than a question "
            f"waits (EMBED_TIMEOUT={s.timeout:g} s); ingests are using it, ask again shortly"
        )

    def _check_dimension(self, dimension: int) -> None:
        if self._dimension is None:
            self._dimension = dimension
        elif dimension != self._dimension:
            raise MalformedEmbedReply(
                f"{self.url}: the endpoint returned {dimension}-dimensional vectors after "
                f"{self._dimension}-dimensional ones; set EMBED_DIMENSIONS or check EMBED_MODEL"
            )

    def _client(self) -> EmbeddingsClient:
        found: EmbeddingsClient | None = getattr(self._local, "client", None)
        if found is None:
            found = self._local.client = self._new_client()
        return found


def remote_embedder(
    settings: Settings, redis_client: redis.Redis | None, *, max_wait: float | None = None
) -> RemoteEmbedder:
    """A RemoteEmbedder for `settings`, under the shared limit when `redis_client` is given,
    waiting for it at most `max_wait` seconds per call when given."""
    remote = settings.remote_embed
    limiter = make_limiter(remote, settings.model, redis_client) if redis_client else None
    return RemoteEmbedder(remote, settings.model, limiter, max_wait=max_wait)


@cache
def process_embedder() -> RemoteEmbedder:
    """This worker process's embedder: one limiter and dimension for all of its threads; a
    batch waits for the limit at most `worker_wait_budget` seconds (see embed(partial=True))."""
    from tasks import resources

    settings = resources.settings()
    return remote_embedder(
        settings, resources.redis_client(), max_wait=worker_wait_budget(settings)
    )
