"""A private cluster for fault tests: services the tests may kill, stop and start again.

The session `cluster` of tests/conftest.py is shared by other tests, so a test that kills a worker
or stops Redis gets its own: a password-protected redis-server with appendonly persistence, a Chroma
server, a Gutenberg mirror with books big enough to interrupt, and workers started on demand.
Redis and Chroma restart on the same port and data directory, as a restarted machine would.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from celery import Celery
from redis import Redis

from pipeline.stack import services
from pipeline.stack.broker import client_app, nodes_answering
from pipeline.stack.local import service_env
from pipeline.stack.processes import Service, free_port, wait_until
from tests.support.books import expected_chunk_ids, gutenberg_text
from tests.support.cli import ingest_argv
from tests.support.mirror import Mirror, serve_mirror
from tests.support.servers import cluster_env

# Small chunks and batches: many embed batches per book, so a fault lands in the middle of work.
CHUNK_TOKENS = 96
CHUNK_OVERLAP = 16
BATCH_CHUNKS = 8
# A dead worker's unacknowledged messages come back after this many seconds
# (tasks/celery_config.py).
# It must exceed the longest task, and a pool process's first batch waits for the model to load
# (17 s seen on a loaded machine); a shorter one would hand that batch out twice.
VISIBILITY_TIMEOUT = 30


def big_books(ids: dict[str, str], paragraphs: int) -> dict[str, bytes]:
    """Gutenberg-style books published under new ids, written from the synthetic subjects.

    `ids` maps a new id to the subject id (1001-1003) whose sentences it uses.
    """
    books = {}
    for new_id, subject in ids.items():
        text = gutenberg_text(subject, paragraphs=paragraphs, seed=int(new_id)).text
        books[new_id] = text.replace(f"[eBook #{subject}]", f"[eBook #{new_id}]").encode()
    return books


def expected_ids(books: dict[str, bytes], chunk_tokens: int = CHUNK_TOKENS) -> set[str]:
    """The chunk ids corpus.book.prepare_book makes of these books with the run's settings."""
    return expected_chunk_ids(books, chunk_tokens=chunk_tokens, chunk_overlap=CHUNK_OVERLAP)


@dataclass
class FaultCluster:
    """Handles on every process of a private cluster, so a test can break any of them."""

    root: Path
    mirror: Mirror
    password: str = field(default_factory=lambda: "pw-" + secrets.token_hex(8))
    redis_port: int = field(default_factory=free_port)
    chroma_port: int = field(default_factory=free_port)
    # Settings every process of the cluster is started with (a worker started again too),
    # over the defaults of `env`.
    settings: dict[str, str] = field(default_factory=dict)
    redis: Service | None = None
    chroma: Service | None = None
    workers: dict[str, Service] = field(default_factory=dict)
    # Every process started, restarts included, so a test can check that none outlives it.
    started: list[Service] = field(default_factory=list)
    # True while pause_chroma has stopped the Chroma server (SIGSTOP) and it has not resumed.
    chroma_paused: bool = False

    @property
    def redis_url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.redis_port}/0"

    @property
    def chroma_url(self) -> str:
        return f"http://127.0.0.1:{self.chroma_port}"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a worker or a client of this cluster."""
        base = service_env(self.root) | {
            "RAGMILL_CHUNK_TOKENS": str(CHUNK_TOKENS),
            "RAGMILL_CHUNK_OVERLAP": str(CHUNK_OVERLAP),
            "RAGMILL_BATCH_CHUNKS": str(BATCH_CHUNKS),
            "RAGMILL_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        } | self.settings
        return cluster_env(base, self.redis_url, self.chroma_url, self.mirror.url, **extra)

    def client(self) -> Redis:
        return Redis.from_url(self.redis_url)

    # -- Redis -------------------------------------------------------------------------------
    def start_redis(self) -> None:
        # The same port each time, so a restart is the same Redis to every client.
        self.redis, _ = services.start_redis(
            self.root / "redis",
            self.logs,
            port=self.redis_port,
            password=self.password,
            env=os.environ,
        )
        self.started.append(self.redis)

    def stop_redis(self) -> None:
        """SIGTERM, as a service manager stops it: the append-only file is flushed first."""
        assert self.redis is not None
        self.redis.stop(grace=10)

    # -- Chroma ------------------------------------------------------------------------------
    def start_chroma(self) -> None:
        self.chroma, _ = services.start_chroma(
            self.root / "chroma", self.logs, service_env(self.root), port=self.chroma_port
        )
        self.started.append(self.chroma)

    def stop_chroma(self) -> None:
        assert self.chroma is not None
        # A stopped (SIGSTOP) server cannot act on SIGTERM: let it run first.
        self.resume_chroma()
        self.chroma.stop(grace=10)

    def pause_chroma(self) -> None:
        """SIGSTOP the Chroma server, as a machine that hangs would: its connections stay open
        and every request waits, until resume_chroma (or stop) sends SIGCONT."""
        assert self.chroma is not None and not self.chroma_paused, "Chroma is not running"
        os.killpg(self.chroma.pid, signal.SIGSTOP)
        self.chroma_paused = True

    def resume_chroma(self) -> None:
        """SIGCONT a Chroma server that pause_chroma stopped (nothing if it is running)."""
        if self.chroma is not None and self.chroma_paused:
            with suppress(ProcessLookupError):
                os.killpg(self.chroma.pid, signal.SIGCONT)
        self.chroma_paused = False

    def outage(self, service: str, seconds: float) -> None:
        """Stop `service` ("redis" or "chroma"), leave it down for `seconds`, start it again."""
        stop, start = {
            "redis": (self.stop_redis, self.start_redis),
            "chroma": (self.stop_chroma, self.start_chroma),
        }[service]
        stop()
        time.sleep(seconds)
        start()

    # -- Workers -----------------------------------------------------------------------------
    def start_worker(
        self,
        role: str,
        *,
        concurrency: int = 2,
        wait: bool = True,
        env: dict[str, str] | None = None,
        name: str | None = None,
    ) -> Service:
        """A real `celery -A tasks worker` of `role` (io, embed), named `name` (default: the
        role); with `wait`, returned once it answers ping."""
        name = name or role
        service = services.start_worker(
            role,
            {**self.env(), **(env or {})},
            self.logs,
            name=name,
            concurrency=concurrency,
            wait=False,
        )
        self.workers[name] = service
        self.started.append(service)
        if wait:
            self.wait_for_worker(name)
        return service

    @cached_property
    def control(self) -> Celery:
        """A Celery client of this cluster's own for ping and inspect."""
        return client_app(self.redis_url)

    def wait_for_worker(self, name: str, timeout: float = 90) -> None:
        wait_until(
            lambda: any(n.startswith(name + "@") for n in nodes_answering(self.control)),
            service=self.workers[name],
            timeout=timeout,
            what="celery ping",
        )

    def busy_pool_pids(self, name: str) -> list[int]:
        """Pids of worker `name`'s pool processes that are running a task right now."""
        active = self.control.control.inspect(timeout=1).active() or {}
        return [
            int(task["worker_pid"])
            for node, tasks in active.items()
            if node.startswith(name + "@")
            for task in tasks
            if task.get("worker_pid")
        ]

    def idle(self) -> bool:
        """True when no queue holds a message and no worker runs a task."""
        client = self.client()
        if any(client.llen(queue) for queue in ("io", "embed")):
            return False
        active = self.control.control.inspect(timeout=1).active()
        return active is not None and not any(active.values())

    def start_standard_workers(
        self, embed_concurrency: int = 2, io_env: dict[str, str] | None = None
    ) -> None:
        """One io worker (threads) and one embed worker (prefork), started side by side."""
        self.start_worker("io", concurrency=4, wait=False, env=io_env)
        self.start_worker("embed", concurrency=embed_concurrency, wait=False)
        self.wait_for_worker("io")
        self.wait_for_worker("embed")

    def pool_children(self, name: str) -> list[int]:
        """Pids of the prefork pool processes of worker `name`."""
        parent = self.workers[name].pid
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker's parent and its pool processes at once, as a lost machine would.

        The worker runs in its own session (see pipeline/stack/processes.py), so its process group
        holds exactly its parent and pool processes.
        """
        service = self.workers[name]
        os.killpg(service.pid, signal.SIGKILL)
        service.process.wait(timeout=10)

    def log(self, name: str) -> str:
        """Everything worker `name` (or redis, chroma) has logged so far."""
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def leaked_secret(self, *outputs: str) -> list[str]:
        """Names of the logs and outputs that contain the Redis password (should be none)."""
        found = [f"output {i}" for i, text in enumerate(outputs) if self.password in text]
        for path in sorted(self.logs.glob("*.log")):
            if path.name != "redis.log" and self.password in path.read_text(errors="replace"):
                found.append(path.name)
        return found

    def leftovers(self) -> list[str]:
        """Processes still running in a session this cluster started (`pid command` each).

        Every service starts in its own session (pipeline/stack/processes.py), and its pool,
        extraction and server processes stay in it, so this finds any of them that outlived
        its service. Zombies (already dead, waiting to be reaped) are not counted.
        """
        sessions = {service.pid for service in self.started}
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with suppress(OSError):
                # After the command's closing parenthesis: state, ppid, pgrp, session.
                head, _, rest = stat.read_text().rpartition(")")
                state, _ppid, _pgrp, session = rest.split()[:4]
                if int(session) in sessions and state != "Z":
                    found.append(f"{stat.parent.name} {head.partition('(')[2]}")
        return found

    def stop(self) -> None:
        # The test is over and its stores are thrown away: no warm shutdown to wait for. Each
        # worker's process group is its parent and pool (a SIGKILLed parent's pool included).
        for service in self.workers.values():
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(service.pid, signal.SIGKILL)
            service.process.wait(timeout=10)
        if self.chroma is not None:
            self.resume_chroma()
            self.chroma.stop(grace=10)
        if self.redis is not None:
            self.redis.stop(grace=10)


@contextmanager
def fault_cluster(root: Path, books: dict[str, bytes]) -> Iterator[FaultCluster]:
    """Redis, Chroma and a mirror with `books` (workers are started by the test)."""
    with serve_mirror(root / "mirror") as mirror:
        for book_id, data in books.items():
            mirror.put(f"cache/epub/{book_id}/pg{book_id}.txt", data)
        cluster = FaultCluster(root=root, mirror=mirror)
        try:
            cluster.start_redis()
            cluster.start_chroma()
            yield cluster
        finally:
            cluster.stop()


def run_ingest(
    cluster: FaultCluster,
    collection: str,
    *books: str,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    """`ragmill ingest --json` against the cluster, to the end."""
    return subprocess.run(
        ingest_argv(collection, *(extra or []), *books),
        env=env or cluster.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_ingest(
    cluster: FaultCluster,
    collection: str,
    *books: str,
    extra: list[str] | None = None,
) -> subprocess.Popen[str]:
    """`ragmill ingest --json` in the background, for a test to interrupt."""
    return subprocess.Popen(
        ingest_argv(collection, *(extra or []), *books),
        env=cluster.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
