"""An ingest whose batches wait in a queue that no worker reads names the queue and what to start,
goes on waiting, and finishes once a worker for it comes.

Real redis-server, Chroma, io worker and `embed-remote` workers against the local embeddings
endpoint (vectors drawn from each text's hash, 0.3 s a request, so the embed stage is
slow enough to be caught half-way and a new worker is ready in seconds, with no model to load).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import redis

from pipeline.ingest.unread_queues import INSPECT_TIMEOUT, QUIET_SECONDS, RECHECK_SECONDS
from pipeline.stack.local import service_env
from pipeline.stack.processes import Service
from pipeline.stack.services import start_worker, wait_for_workers
from tasks.ledger import RunLedger, recent_runs
from tasks.store import ChunkStore
from tests.faults.report import RecordProperty
from tests.support.books import expected_chunk_ids
from tests.support.cli import RAGMILL
from tests.support.embeddings_server import MODEL, serve_embeddings
from tests.support.mirror import Mirror
from tests.support.servers import chroma_server, cluster_env, redis_server
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

WARNING = "no worker reads queue 'embed-remote'; start one: celery -A tasks worker -Q embed-remote"
NOTICE = "a worker reads queue 'embed-remote' now"
# The run stands still, the workers are asked (perhaps only once an earlier question's recheck
# interval is over) and answer, plus slack for a loaded machine.
NAMED_WITHIN = QUIET_SECONDS + RECHECK_SECONDS + INSPECT_TIMEOUT + 5


def batches_done(client: redis.Redis) -> int:
    runs = recent_runs(client)
    return RunLedger(client, runs[0]).snapshot().batches_done if runs else 0


@pytest.mark.reliability(
    "fault", "the only `embed-remote` worker stopped mid-ingest; another started once the "
    "client had named its queue", order=12,
)
def test_a_queue_left_without_a_worker_is_named_once_and_the_run_ends_when_one_comes(
    tmp_path: Path, mirror: tuple[Mirror, dict[str, bytes]], record_property: RecordProperty
) -> None:
    books = mirror[1]
    workers: dict[str, Service] = {}
    with (
        redis_server(tmp_path / "redis") as redis_url,
        chroma_server(tmp_path / "server") as chroma_url,
        serve_embeddings(latency=0.3, hashed_vectors=True) as endpoint,
    ):
        env = cluster_env(
            service_env(tmp_path / "workers"), redis_url, chroma_url, mirror[0].url,
            EMBED_BACKEND="openai", EMBED_BASE_URL=endpoint.url, EMBED_MODEL=MODEL,
            EMBED_MAX_INPUTS="4", RAGMILL_BATCH_CHUNKS="4",
        )
        logs = tmp_path / "logs"
        for name, role in (("io", "io"), ("remote", "embed-remote")):
            workers[name] = start_worker(role, env, logs, name=name, concurrency=1, wait=False)
        stderr = tmp_path / "ingest.err"
        try:
            wait_for_workers(redis_url, workers)
            with stderr.open("w") as err:
                ingest = subprocess.Popen(
                    [RAGMILL, "ingest", *books, "--json", "--no-progress",
                     "--collection", "unread"],
                    env={**env, "RAGMILL_DATA_DIR": str(tmp_path / "client")},
                    stdout=subprocess.PIPE, stderr=err, text=True,
                )
            try:
                client = redis.Redis.from_url(redis_url)
                wait_for(lambda: batches_done(client) >= 1 or ingest.poll() is not None, 90,
                         "a first batch stored")
                assert ingest.poll() is None, stderr.read_text()
                # The only embed-remote worker goes; its queue still holds most batches.
                workers.pop("remote").stop(grace=20)
                left = client.llen("embed-remote")
                stopped = time.monotonic()
                wait_for(lambda: WARNING in stderr.read_text(), 30, "the unread-queue warning")
                named_after = time.monotonic() - stopped
                workers["remote2"] = start_worker("embed-remote", env, logs, name="remote2",
                                                  concurrency=2)
                stdout, _ = ingest.communicate(timeout=120)
            finally:
                ingest.kill()
            said = stderr.read_text()
            store = ChunkStore.connect(chroma_url, "unread")
            stored = set(store.all_ids())
        finally:
            for worker in workers.values():
                worker.stop(grace=20)
    assert left > 0, "every batch was taken before the worker went"
    assert named_after < NAMED_WITHIN, named_after
    assert said.count(WARNING) == 1 and said.count(NOTICE) == 1, said
    assert said.index(WARNING) < said.index(NOTICE)
    assert ingest.returncode == 0, said
    summary = json.loads(stdout)
    expected = expected_chunk_ids(books)
    assert summary["books_done"] == len(books) and stored == expected
    record_property("checked", "one warning naming the queue and the command that starts "
                    f"its worker, within {NAMED_WITHIN:g} s of the worker's going; one notice "
                    "once another answers; exit 0; stored ids == expected")
    record_property("observed", f"{left} message(s) left in its queue; named {named_after:.1f} s "
                    f"after the worker went: \"{WARNING}...\"; {len(stored)} of "
                    f"{len(expected)} chunks stored; {summary['seconds']} s in all")
