"""Per-process engines: settings, Redis, the chunk store, the model, the downloader.

Each is made on first use and kept for the life of the process, so a worker loads its model once
and reuses its connections; `reset()` drops them in a freshly forked process.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from tasks.settings import Settings

# The share of RAGMILL_VISIBILITY_TIMEOUT one request to Chroma may take in a worker.
CHROMA_SHARE = 0.5

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from corpus.chunking import ChunkConfig
    from corpus.download import Downloader
    from tasks.embedding import Embedder
    from tasks.embedding.backend import EmbeddingBackend
    from tasks.store import ChunkStore


@cache
def settings() -> Settings:
    return Settings.from_env()


def redis_retry() -> Retry:
    """Retries that carry a Redis command across a Redis restart of up to about a minute.

    0.1 s doubling to 2 s, 30 times: ~53 s. The ledger's scripts are idempotent, so a command
    repeated after a reply was lost counts nothing twice.
    """
    return Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=30)


@cache
def redis_client() -> redis.Redis:
    from tasks.celery_config import LOCAL_REDIS

    return redis.Redis.from_url(settings().redis_url or LOCAL_REDIS, retry=redis_retry())


@cache
def chunk_store(collection: str) -> ChunkStore:
    """The store for `collection`; the name travels with each task, so one worker serves all."""
    from tasks.store import CHROMA_TIMEOUT, ChunkStore

    url = settings().chroma_url
    if url is None:
        raise RuntimeError("CHROMA_URL is not set; workers reach Chroma through its server")
    # A request to a hung Chroma ends well before the visibility timeout hands its message out
    # again, so the task retries it rather than a second copy starting beside the first.
    timeout = min(CHROMA_TIMEOUT, settings().visibility_timeout * CHROMA_SHARE)
    return ChunkStore.connect(url, collection, timeout)


@cache
def backend() -> EmbeddingBackend:
    """This process's embedding backend, as its settings name it."""
    from tasks.embedding.backend import EmbeddingBackend

    return EmbeddingBackend.from_settings(settings())


@cache
def embedder() -> Embedder:
    encoder: Embedder = backend().local_encoder(settings().encode_batch_size)
    return encoder


@cache
def tokenizer() -> Tokenizer:
    from corpus.tokens import load_tokenizer

    return load_tokenizer(Path(backend().chunk_model))


@cache
def chunk_config(max_tokens: int, overlap_tokens: int) -> ChunkConfig:
    from corpus.chunking import ChunkConfig
    from corpus.tokens import model_window

    window = model_window(Path(backend().chunk_model))
    return ChunkConfig(max_tokens=max_tokens, overlap_tokens=overlap_tokens, window=window)


_local = threading.local()


def downloader(mirror: str) -> Downloader:
    """This thread's downloader for `mirror` (the mirror travels with each task).

    One per thread because io workers run a threads pool and a requests.Session is not
    thread-safe.
    """
    from corpus.download import DownloadConfig, Downloader

    cached: dict[str, Downloader] = _local.__dict__.setdefault("downloaders", {})
    if mirror not in cached:
        s = settings()
        config = DownloadConfig(
            cache_dir=s.cache_dir,
            mirror=mirror,
            max_bytes=s.max_book_bytes,
            read_timeout=float(s.download_read_timeout),
            retries=s.download_retries,
        )
        cached[mirror] = Downloader(config)
    return cached[mirror]


def reset() -> None:
    """Forget every engine (after fork, or when tests change the environment)."""
    for getter in (
        settings,
        backend,
        redis_client,
        chunk_store,
        embedder,
        tokenizer,
        chunk_config,
    ):
        getter.cache_clear()
    _local.__dict__.clear()
