"""Real redis-server, Chroma server and Celery worker processes for tests, on free ports.

The command lines and readiness probes are written here once; the fault cluster
(tests/faults/cluster.py) starts and restarts its services with the same ones.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import requests

from pipeline.broker import control, nodes_answering
from pipeline.processes import Service, free_port, spawn, wait_until
from pipeline.stack import find_executable, service_env


def redis_argv(port: int, workdir: Path, *extra: str) -> list[str]:
    """redis-server on 127.0.0.1:`port`, keeping its files in `workdir`, no RDB snapshots."""
    return [
        find_executable("redis-server"), "--bind", "127.0.0.1", "--port", str(port),
        "--dir", str(workdir), "--save", "", *extra,
    ]


def chroma_argv(port: int, path: Path) -> list[str]:
    """`chroma run` on 127.0.0.1:`port` over the Chroma directory `path`."""
    return [
        find_executable("chroma"), "run", "--path", str(path),
        "--host", "127.0.0.1", "--port", str(port),
    ]


def worker_argv(name: str, queue: str, *, pool: str, concurrency: int) -> list[str]:
    """`celery -A tasks worker` named `name@host`, taking `queue`."""
    return [
        sys.executable, "-m", "celery", "-A", "tasks", "worker", "-Q", queue,
        "--pool", pool, "-c", str(concurrency), "-n", f"{name}@%h", "--loglevel", "INFO",
    ]


def wait_for_redis(url: str, service: Service) -> None:
    wait_until(
        lambda: bool(redis.Redis.from_url(url).ping()), service=service, timeout=30, what="PING"
    )


def wait_for_chroma(url: str, service: Service) -> None:
    wait_until(
        lambda: requests.get(f"{url}/api/v2/heartbeat", timeout=1).ok,
        service=service, timeout=60, what="heartbeat",
    )


@contextmanager
def _serving(
    service: Service, url: str, wait_for_ready: Callable[[str, Service], None]
) -> Iterator[str]:
    """Yield `url` once `service` answers there; stop the service when the block ends."""
    try:
        wait_for_ready(url, service)
        yield url
    finally:
        service.stop(grace=5)


@contextmanager
def redis_server(workdir: Path, *extra: str) -> Iterator[str]:
    """A redis-server of the block's own, keeping its files in `workdir`; yields its URL."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = redis_argv(port, workdir, *extra)
    service = spawn("redis", argv, env=dict(os.environ), log_path=workdir / "redis.log")
    with _serving(service, f"redis://127.0.0.1:{port}/0", wait_for_redis) as url:
        yield url


@contextmanager
def chroma_server(workdir: Path) -> Iterator[str]:
    """A Chroma server of the block's own over `workdir`/chroma; yields its URL."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = chroma_argv(port, workdir / "chroma")
    service = spawn("chroma", argv, env=service_env(workdir), log_path=workdir / "chroma.log")
    with _serving(service, f"http://127.0.0.1:{port}", wait_for_chroma) as url:
        yield url


def start_worker(
    name: str,
    queue: str,
    env: dict[str, str],
    log_dir: Path,
    *,
    pool: str = "prefork",
    concurrency: int = 2,
) -> Service:
    """A real `celery -A tasks worker` process, returned once it answers ping."""
    argv = worker_argv(name, queue, pool=pool, concurrency=concurrency)
    service = spawn(name, argv, env=env, log_path=log_dir / f"{name}.log")
    with control(env["REDIS_URL"]) as app:
        wait_until(
            lambda: any(n.startswith(name + "@") for n in nodes_answering(app)),
            service=service,
            timeout=90,
            what="celery ping",
        )
    return service
