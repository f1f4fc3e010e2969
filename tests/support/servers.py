"""Real redis-server, Chroma server and Celery worker processes for tests, on free ports."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import requests

from pipeline.broker import control, nodes_answering
from pipeline.processes import Service, free_port, spawn, wait_until
from pipeline.services import find_executable
from pipeline.stack import service_env


@contextmanager
def redis_server(workdir: Path, *extra: str) -> Iterator[str]:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    service = spawn(
        "redis",
        [
            find_executable("redis-server"),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(workdir),
            "--save",
            "",
            *extra,
        ],
        env=dict(os.environ),
        log_path=workdir / "redis.log",
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(
            lambda: bool(redis.Redis.from_url(url).ping()), service=service, timeout=30, what="PING"
        )
        yield url
    finally:
        service.stop(grace=5)


@contextmanager
def chroma_server(workdir: Path) -> Iterator[str]:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    service = spawn(
        "chroma",
        [
            find_executable("chroma"),
            "run",
            "--path",
            str(workdir / "chroma"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=service_env(workdir),
        log_path=workdir / "chroma.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: requests.get(f"{url}/api/v2/heartbeat", timeout=1).ok,
            service=service,
            timeout=60,
            what="heartbeat",
        )
        yield url
    finally:
        service.stop(grace=5)


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
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tasks",
        "worker",
        "-Q",
        queue,
        "--pool",
        pool,
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "--loglevel",
        "INFO",
    ]
    service = spawn(name, argv, env=env, log_path=log_dir / f"{name}.log")
    with control(env["REDIS_URL"]) as app:
        wait_until(
            lambda: any(n.startswith(name + "@") for n in nodes_answering(app)),
            service=service,
            timeout=90,
            what="celery ping",
        )
    return service
