"""Ingest with EMBED_BACKEND=openai through real redis, real Celery workers and a real Chroma.

An io worker and two `embed-remote` worker processes (threads pool) share one limit in Redis and
call the local embeddings server (real all-MiniLM-L6-v2 vectors), which counts requests and
tokens per window itself. The window is shortened to 4 seconds with proportional limits, so the
limit binds within a test; the limiter's rules do not depend on the window's length. The API key
is required by the server and checked to stay out of the output, the failures, the task events
Flower shows, the worker logs and Redis. test_remote_embedding_faults.py adds random faults.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import redis

from pipeline.stack.broker import client_app
from pipeline.stack.local import StackInfo
from tasks.embedding.remote import RemoteEmbedder, make_limiter
from tasks.settings import RemoteEmbedSettings
from tasks.store import ChunkStore
from tests.conftest import run_cli
from tests.support.embeddings_server import MODEL
from tests.support.mirror import Mirror
from tests.support.remote_cluster import RemoteCluster, limited_remote_cluster

pytestmark = pytest.mark.e2e

WINDOW = 4.0
RPM = 6
TPM = 60_000
KEY = "sk-test-key-0123456789"


@pytest.fixture(scope="module")
def remote(
    tmp_path_factory: pytest.TempPathFactory,
    mirror: tuple[Mirror, dict[str, bytes]],
) -> Iterator[RemoteCluster]:
    with limited_remote_cluster(
        tmp_path_factory.mktemp("remote"), mirror[0].url, rpm=RPM, tpm=TPM, window=WINDOW,
        key=KEY, chunks_per_request=16,
    ) as cluster:
        yield cluster


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


def test_a_question_waits_for_the_shared_limit_or_fails_in_one_line_unsent(
    remote: RemoteCluster, collection: str
) -> None:
    assert remote.ingest(collection, "1002").code == 0
    server = remote.server
    # What an ingest does to the shared limit: a whole window of requests, then a 429 that
    # paused every process for a while.
    settings = RemoteEmbedSettings(
        base_url=server.url, api_key=KEY, rpm=RPM, tpm=TPM, window_seconds=WINDOW,
        max_inputs=1, limit_name=remote.env["EMBED_LIMIT_NAME"],
    )
    client = redis.Redis.from_url(remote.redis_url)
    limiter = make_limiter(settings, MODEL, client)
    RemoteEmbedder(settings, MODEL, limiter).embed([f"chunk {i}" for i in range(RPM)])
    limiter.pause(30)
    spent = server.requests_seen()

    impatient = run_cli(["query", "--collection", collection, "the station master"],
                        {**remote.env, "EMBED_TIMEOUT": "1"})
    assert impatient.code == 1
    line = impatient.stderr.strip()
    assert "\n" not in line and "EMBED_TIMEOUT=1" in line and "shared limit" in line, line
    assert server.requests_seen() == spent, "the question went out while the limit was paused"

    client.delete(limiter.paused_key)
    until = limiter.pause(8)
    patient = run_cli(["query", "--collection", collection, "--json", "the station master"],
                      remote.env)
    assert patient.code == 0, patient.stderr
    assert server.requests_seen() == spent + 1 and server.violations == []
    assert server.log[-1].at >= until - 0.05, "the question did not wait for the pause"
    client.close()


def test_beside_a_local_stack_a_question_joins_its_limit_without_redis_url(
    remote: RemoteCluster, collection: str, tmp_path: Path
) -> None:
    assert remote.ingest(collection, "1002").code == 0
    server = remote.server
    settings = RemoteEmbedSettings(
        base_url=server.url, api_key=KEY, rpm=RPM, tpm=TPM, window_seconds=WINDOW,
        limit_name=remote.env["EMBED_LIMIT_NAME"],
    )
    client = redis.Redis.from_url(remote.redis_url)
    limiter = make_limiter(settings, MODEL, client)
    limiter.pause(30)
    spent = server.requests_seen()
    # What `ragmill up` leaves in its data directory: where its Redis is, and that it runs.
    data = tmp_path / "data"
    data.mkdir()
    (data / "stack.json").write_text(json.dumps(asdict(StackInfo(
        redis_url=remote.redis_url, chroma_url=remote.chroma_url, flower_url=None, mode="up",
        owner_pid=os.getpid(),
    ))))
    env = {**remote.env, "EMBED_TIMEOUT": "1", "RAGMILL_DATA_DIR": str(data)}
    del env["REDIS_URL"]
    paused = run_cli(["query", "--collection", collection, "the station master"], env)
    assert paused.code == 1 and "EMBED_TIMEOUT=1" in paused.stderr, paused.stderr
    assert server.requests_seen() == spent, "the question went out past the stack's pause"
    client.delete(limiter.paused_key)
    client.close()


def test_a_refused_key_is_one_line_on_query_without_the_key(
    remote: RemoteCluster, collection: str
) -> None:
    assert remote.ingest(collection, "1002").code == 0
    wrong = "sk-wrong-key-5555555555"
    result = run_cli(["query", "--collection", collection, "--json", "the station master"],
                     {**remote.env, "EMBED_API_KEY": wrong})
    assert result.code == 1 and result.stdout == ""
    line = result.stderr.strip()
    assert "\n" not in line and "401" in line and "EMBED_API_KEY" in line, line
    assert wrong not in line and "Traceback" not in line


def test_the_key_stays_out_of_task_events_worker_logs_and_redis(
    remote: RemoteCluster, collection: str
) -> None:
    # Flower shows what the task events carry (args, kwargs, results); so do `celery events`.
    with task_events(remote.redis_url) as events:
        result = remote.ingest(collection, "1001")
        assert result.code == 0, result.stderr
        time.sleep(1.0)  # the last events are on their way
    embedded = [e for e in events if e.get("type") == "task-received"
                and e.get("name") == "ragmill.embed_batch"]
    # Messages travel as kwargs, shown as their summary (tasks.messages.send_options).
    assert embedded and "1001" in str(embedded[0].get("kwargs")), "no task arguments were seen"
    assert KEY not in json.dumps(events, default=str)
    logs = "".join(p.read_text(errors="replace") for p in remote.logs.glob("*.log"))
    assert "ragmill.embed_batch" in logs and KEY not in logs
    assert KEY not in redis_contents(remote.redis_url)


@contextmanager
def task_events(redis_url: str) -> Iterator[list[dict[str, Any]]]:
    """Every Celery event sent while the block runs, as Flower receives them."""
    app = client_app(redis_url)
    seen: list[dict[str, Any]] = []
    with app.connection_for_read() as connection:
        receiver = app.events.Receiver(connection, handlers={"*": seen.append})
        thread = threading.Thread(
            target=lambda: receiver.capture(limit=None, timeout=None, wakeup=False), daemon=True
        )
        thread.start()
        time.sleep(0.5)  # subscribed before the first event is sent
        try:
            yield seen
        finally:
            receiver.should_stop = True
            thread.join(10)
    app.close()


def redis_contents(redis_url: str) -> str:
    """Every key and value in the cluster's Redis, as one text."""
    client = redis.Redis.from_url(redis_url)
    readers: dict[Any, Callable[[Any], Any]] = {
        b"string": client.get, b"hash": client.hgetall, b"set": client.smembers,
        b"list": lambda key: client.lrange(key, 0, -1),
        b"zset": lambda key: client.zrange(key, 0, -1, withscores=True),
        b"stream": lambda key: client.xrange(key),
    }
    parts = [f"{key!r} {readers[client.type(key)](key)!r}" for key in client.scan_iter()
             if client.type(key) in readers]
    client.close()
    return "\n".join(parts)
