"""Submission keeps queued work bounded: --books-in-flight books and --chunks-in-flight chunks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from pipeline.stack.local import service_env
from tasks.ledger import RunLedger, Snapshot, recent_runs
from tests.conftest import RAGMILL, run_cli
from tests.support.books import expected_chunk_ids, gutenberg_text
from tests.support.mirror import serve_mirror
from tests.support.servers import chroma_server, redis_server, start_worker

pytestmark = pytest.mark.e2e


def test_books_in_flight_bounds_what_is_queued(tmp_path: Path) -> None:
    # No worker consumes this Redis, so whatever the client submits stays in the io queue.
    with redis_server(tmp_path / "redis") as url:
        env = dict(os.environ, REDIS_URL=url, RAGMILL_DATA_DIR=str(tmp_path / "data"))
        ingest = subprocess.Popen(
            [RAGMILL, "ingest", *[str(n) for n in range(1, 41)], "--books-in-flight", "3",
             "--no-progress"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        try:
            client = redis.Redis.from_url(url)
            deadline = time.monotonic() + 30
            while client.llen("io") < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(2)  # several more polling rounds of the client
            queued = client.llen("io")
            ingest.send_signal(signal.SIGINT)
            _, stderr = ingest.communicate(timeout=30)
        finally:
            ingest.kill()
    assert queued == 3
    assert "no worker reads queue 'io'; start one: celery -A tasks worker -Q io" in stderr
    assert ingest.returncode == 130


def test_a_full_chunk_budget_holds_back_a_free_book_slot(tmp_path: Path) -> None:
    # Three books in flight at most and a budget of 2 chunks, one embed process. Book 2001 is one
    # short batch and lands first, while ~40 chunks of 2002 and 2003 still wait: its free slot
    # must stay free until fewer than 2 chunks wait. A book cap alone would send 2004 at once.
    books = {}
    for n, (subject, paragraphs) in enumerate([("1001", 2), ("1002", 30), ("1003", 30),
                                               ("1001", 30)]):
        served = str(2001 + n)
        text = gutenberg_text(subject, paragraphs=paragraphs, seed=n).text
        books[served] = text.replace(f"[eBook #{subject}]", f"[eBook #{served}]").encode()
    at_last_request: list[Snapshot] = []
    with (
        serve_mirror(tmp_path / "mirror") as mirror,
        redis_server(tmp_path / "redis") as redis_url,
        chroma_server(tmp_path / "chroma") as chroma_url,
    ):
        for book_id, data in books.items():
            mirror.put(f"cache/epub/{book_id}/pg{book_id}.txt", data)
        client = redis.Redis.from_url(redis_url)

        def note(path: str) -> None:
            if "2004" in path:
                at_last_request.append(RunLedger(client, recent_runs(client)[0]).snapshot())

        mirror.on_request = note
        env = service_env(tmp_path / "workers")
        env.update(REDIS_URL=redis_url, CHROMA_URL=chroma_url, RAGMILL_BATCH_CHUNKS="4")
        workers = [
            start_worker("io", "io", env, tmp_path / "logs", concurrency=4),
            start_worker("embed", "embed", env, tmp_path / "logs", concurrency=1),
        ]
        try:
            done = run_cli(
                ["ingest", *books, "--books-in-flight", "3", "--chunks-in-flight", "2", "--json",
                 "--collection", "budget"],
                {**env, "GUTENBERG_MIRROR": mirror.url, "RAGMILL_DATA_DIR": str(tmp_path)},
            )
        finally:
            for worker in workers:
                worker.stop(grace=20)
    assert done.code == 0, done.stderr
    assert at_last_request, "book 2004 was never downloaded"
    first = at_last_request[0]
    assert first.books_done >= 1
    assert first.chunks_queued < 2, f"2004 was sent while {first.chunks_queued} chunks waited"
    summary = json.loads(done.stdout)
    assert summary["books_done"] == 4
    assert summary["chunks_new"] == len(expected_chunk_ids(books))
