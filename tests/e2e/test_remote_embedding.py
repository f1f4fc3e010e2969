"""Ingest with EMBED_BACKEND=openai through real redis, real Celery workers and a real Chroma.

An io worker and two `embed-remote` worker processes (threads pool) share one limit in Redis and
call the local embeddings server (real all-MiniLM-L6-v2 vectors), which counts requests and
tokens per window itself. The window is shortened to 4 seconds with proportional limits, so the
limit binds within a test; the limiter's rules do not depend on the window's length.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pipeline.processes import Service
from pipeline.services import start_worker, wait_for_workers
from pipeline.stack import service_env
from tasks.store import ChunkStore
from tests.conftest import Result, run_cli
from tests.support.embeddings_server import MODEL, EmbeddingsServer, serve_embeddings
from tests.support.mirror import Mirror
from tests.support.servers import chroma_server, redis_server

pytestmark = pytest.mark.e2e

WINDOW = 4.0
RPM = 6
TPM = 60_000
KEY = "sk-test-key-0123456789"


@dataclass
class RemoteCluster:
    server: EmbeddingsServer
    chroma_url: str
    env: dict[str, str]

    def ingest(self, collection: str, *ids: str) -> Result:
        return run_cli(
            ["ingest", "--json", "--no-progress", "--collection", collection, *ids], self.env
        )


@pytest.fixture(scope="module")
def remote(
    tmp_path_factory: pytest.TempPathFactory,
    mirror: tuple[Mirror, dict[str, bytes]],
) -> Iterator[RemoteCluster]:
    root = tmp_path_factory.mktemp("remote")
    # A redis of its own: the session cluster's io worker must not take these books' tasks.
    with serve_embeddings(rpm=RPM, tpm=TPM, window=WINDOW, latency=0.05,
                          api_key=KEY) as server, chroma_server(root) as chroma_url, \
            redis_server(root / "redis") as redis_url:
        env = service_env(root)
        env.update(
            REDIS_URL=redis_url, CHROMA_URL=chroma_url, GUTENBERG_MIRROR=mirror[0].url,
            RAGMILL_DATA_DIR=str(root), EMBED_BACKEND="openai", EMBED_BASE_URL=server.url,
            EMBED_MODEL=MODEL, EMBED_API_KEY=KEY, EMBED_RPM=str(RPM), EMBED_TPM=str(TPM),
            EMBED_WINDOW_SECONDS=str(WINDOW), EMBED_MAX_INPUTS="16", RAGMILL_BATCH_CHUNKS="16",
            EMBED_TIMEOUT="30", EMBED_LIMIT_NAME=f"e2e-{os.getpid()}",
        )
        workers: dict[str, Service] = {
            name: start_worker(role, env, root / "logs", name=name, concurrency=threads,
                               wait=False)
            for name, role, threads in (
                ("rio", "io", 4), ("remote1", "embed-remote", 4), ("remote2", "embed-remote", 4)
            )
        }
        try:
            wait_for_workers(redis_url, workers)
            yield RemoteCluster(server, chroma_url, env)
        finally:
            for worker in workers.values():
                worker.stop(grace=20)


def test_ingest_stays_within_the_limit_stores_every_chunk_once_and_reruns_for_free(
    remote: RemoteCluster, collection: str
) -> None:
    server = remote.server
    first = remote.ingest(collection, "1001", "1002", "1003")
    assert first.code == 0, first.stderr
    summary = first.json()
    assert isinstance(summary, dict)
    store = ChunkStore.connect(remote.chroma_url, collection)
    assert summary["books_done"] == 3 and store.count() == summary["chunks"] > 0
    assert server.violations == [], "a request went over the endpoint's limit"
    assert server.max_in_window()[0] <= RPM
    # Several chunks per request: requests, not chunks, meet the RPM limit.
    assert summary["embed_requests"] == len(server.accepted()) < summary["chunks"]
    # The reply's usage; a request retried after a timeout is charged its reserved bound.
    assert summary["embed_tokens"] >= sum(s.tokens for s in server.accepted()) > 0
    assert summary["embed_limit"] == {"requests": RPM, "tokens": TPM, "window_seconds": WINDOW}
    assert KEY not in first.stdout + first.stderr

    seen = server.requests_seen()
    again = remote.ingest(collection, "1001", "1002", "1003")
    assert again.code == 0, again.stderr
    assert again.json()["chunks_new"] == 0  # type: ignore[index]
    assert server.requests_seen() == seen, "a rerun embedded stored chunks again"

    # The question is embedded through the same endpoint, and retrieval works end to end.
    query = run_cli(["query", "--collection", collection, "--json", "-k", "3",
                     "the station master"], remote.env)
    assert query.code == 0, query.stderr
    assert server.requests_seen() == seen + 1
    assert query.json(), "no passages found"


def test_a_429_storm_pauses_every_worker_until_its_retry_after(
    remote: RemoteCluster, collection: str
) -> None:
    server = remote.server
    start = len(server.log)
    server.fail_next(3, "429", retry_after=1.5)
    result = remote.ingest(collection, "1001", "1002")
    assert result.code == 0, result.stderr
    log = server.log[start:]
    storms = [s.at for s in log if s.status == 0]
    assert len(storms) == 3
    # Requests already in flight when the first 429 came may still arrive; after that nothing
    # reaches the endpoint, from either worker process, until the Retry-After has passed.
    in_flight = 0.3
    early = [s for s in log if storms[0] + in_flight < s.at < storms[0] + 1.5 - 0.05]
    assert early == []
    assert server.violations == []


def test_a_refused_key_fails_each_book_with_one_line(
    remote: RemoteCluster, collection: str
) -> None:
    server = remote.server
    server.api_key = "another-key"
    try:
        result = remote.ingest(collection, "1001", "1002")
    finally:
        server.api_key = KEY
    assert result.code == 1
    summary = result.json()
    assert isinstance(summary, dict)
    assert summary["books_failed"] == 2
    failures = summary["failures"]
    assert len(failures) == 2
    for reason in failures.values():
        assert "401" in reason and "EMBED_API_KEY" in reason and f"{server.url}" in reason
        assert "\n" not in reason and KEY not in reason
    assert KEY not in result.stdout + result.stderr
