"""ragmill end to end under measurement: a private stack, a run through it, and what it used.

The stack is the one `ragmill ingest` starts (pipeline/stack/local.py: redis-server, a Chroma
server, an io worker and an embed worker with N prefork processes), in a temporary data directory.
While a run goes, a sampler thread reads Redis's used_memory and each embed process's resident
memory, so the table can show the peak of both, and every stack process's CPU time, so the report
can show where the run's CPU went (pipeline/bench/cpu_account.py).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from corpus.sources import Source
from pipeline.bench.corpus import CorpusSet
from pipeline.bench.cpu_account import CpuAccount, CpuUse, child_pids
from pipeline.bench.probe import rss_mb
from pipeline.ingest.submission import Plan, Submission
from pipeline.stack.broker import client_app, connect
from pipeline.stack.local import LocalStack, StackInfo, StackPlan
from tasks.settings import Settings

SAMPLE_SECONDS = 0.5


@dataclass(frozen=True)
class RunResult:
    """One measured run of the pipeline."""

    chunks: int
    seconds: float
    books: int
    failures: list[str]
    worker_rss_mb: float  # peak resident memory of the largest embed process
    worker_processes: int
    redis_peak_mb: float  # peak used_memory during the run
    redis_start_mb: float
    cpu: CpuUse  # CPU seconds by role over the run

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds else 0.0


@contextlib.contextmanager
def bench_stack(
    data_dir: Path, processes: int, env: dict[str, str]
) -> Iterator[tuple[LocalStack, StackInfo]]:
    """A private stack with `processes` embed processes, started with `env` over os.environ."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        # The workers read EMBED_BACKEND, EMBED_THREADS and the rest from the environment they
        # are started with, which LocalStack copies from this process.
        stack = LocalStack(data_dir, StackPlan(embed_concurrency=processes))
        info = stack.start()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        yield stack, info
    finally:
        stack.stop()


def run_pipeline(
    stack: LocalStack,
    info: StackInfo,
    corpus: CorpusSet,
    *,
    settings: Settings,
    collection: str,
) -> RunResult:
    """Ingest `corpus` into a new collection through the stack and measure it."""
    app = client_app(info.redis_url)
    client = connect(info.redis_url)
    settings = settings.with_changes(collection=collection, redis_url=info.redis_url)
    sources = [Source("gutenberg", b.served_id, b.served_id) for b in corpus.books]
    submission = Submission(app, client, settings, Plan(sources, []))
    embed_pid = next(s.pid for s in stack.services if s.name == "worker-embed")
    account = CpuAccount({s.name: s.pid for s in stack.services})
    sampler = Sampler(client, embed_pid, account)
    with sampler.running():
        report = submission.run()
    return RunResult(
        chunks=report.chunks_new,
        seconds=report.seconds,
        books=report.snapshot.books_done,
        failures=[f"{k}: {v}" for k, v in report.failures.items()],
        worker_rss_mb=max(sampler.worker_rss.values(), default=0.0),
        worker_processes=len(sampler.worker_rss),
        redis_peak_mb=sampler.redis_peak / 2**20,
        redis_start_mb=sampler.redis_start / 2**20,
        cpu=account.finish(),
    )


class Sampler:
    """Reads Redis memory, embed-process memory and the stack's CPU every SAMPLE_SECONDS in a
    thread."""

    def __init__(self, client: redis.Redis, embed_pid: int, account: CpuAccount) -> None:
        self.client = client
        self.embed_pid = embed_pid
        self.account = account
        self.redis_start = self._redis_used()
        self.redis_peak = self.redis_start
        self.worker_rss: dict[int, float] = {}
        self._stop = threading.Event()

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()
            self._sample()

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._sample()

    def _sample(self) -> None:
        with contextlib.suppress(redis.RedisError):
            self.redis_peak = max(self.redis_peak, self._redis_used())
        # The Celery parent only hands out work; the pool processes load the model and embed.
        for pid in child_pids(self.embed_pid):
            self.worker_rss[pid] = max(self.worker_rss.get(pid, 0.0), rss_mb(pid))
        self.account.sample()

    def _redis_used(self) -> int:
        return int(self.client.info("memory")["used_memory"])

