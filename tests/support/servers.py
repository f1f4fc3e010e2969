"""Real redis-server, Chroma server and Celery worker processes for tests, on free ports.

The command lines and readiness probes are pipeline/stack/services.py's, the ones `ragmill up`
and the containers use; these wrap them in blocks that stop what they started.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from pipeline.stack import services
from pipeline.stack.local import service_env
from pipeline.stack.processes import Service


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A redis-server of the block's own, keeping its files in `workdir`; yields its URL."""
    service, url = services.start_redis(workdir, workdir, persist=False, env=os.environ)
    try:
        yield url
    finally:
        service.stop(grace=5)


@contextmanager
def chroma_server(workdir: Path) -> Iterator[str]:
    """A Chroma server of the block's own over `workdir`/chroma; yields its URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    service, url = services.start_chroma(workdir / "chroma", workdir, service_env(workdir))
    try:
        yield url
    finally:
        service.stop(grace=5)


def start_worker(
    name: str, role: str, env: dict[str, str], log_dir: Path, *, concurrency: int = 2
) -> Service:
    """A real `celery -A tasks worker` of `role` (io, embed, llm), returned once it answers ping."""
    return services.start_worker(role, env, log_dir, name=name, concurrency=concurrency)


def cluster_env(
    base: Mapping[str, str], redis_url: str, chroma_url: str, mirror_url: str, **extra: str
) -> dict[str, str]:
    """`base` with the addresses of one cluster's Redis, Chroma and Gutenberg mirror, then `extra`.

    What a client or a worker needs to join that cluster rather than start a stack of its own.
    """
    return {
        **base,
        "REDIS_URL": redis_url,
        "CHROMA_URL": chroma_url,
        "GUTENBERG_MIRROR": mirror_url,
        **extra,
    }
