"""Chroma in server mode: with CHROMA_URL set, every process writes and reads through `chroma run`.

Two prefork processes of one embed worker upsert into the same server at the same time; the
count must still be exact, and no process may open a Chroma directory of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from pipeline.stack.local import service_env
from pipeline.stack.processes import Service
from tasks.store import ChunkStore
from tests.conftest import run_cli
from tests.e2e.conftest import OwnServers
from tests.support.books import expected_chunk_ids
from tests.support.servers import start_worker

pytestmark = pytest.mark.e2e

# "[2026-11-23 07:15:17,636: INFO/ForkPoolWorker-2] Task ragmill.embed_batch[id] succeeded in 8.1s"
SUCCEEDED = re.compile(
    r"^\[(?P<at>[\d-]+ [\d:]+,\d+): INFO/(?P<process>ForkPoolWorker-\d+)\] "
    r"Task ragmill\.embed_batch\[[^\]]+\] succeeded in (?P<seconds>[\d.]+)s",
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def embed_worker(own_servers: OwnServers) -> Iterator[Service]:
    """An io worker and a two-process embed worker on the module's servers; yields the embed one."""
    env = service_env(own_servers.root / "workers")
    # Small batches, so the two embed processes have many to share.
    env.update(
        REDIS_URL=own_servers.redis_url, CHROMA_URL=own_servers.chroma_url, RAGMILL_BATCH_CHUNKS="4"
    )
    logs = own_servers.root / "logs"
    io = start_worker("server-io", "io", env, logs, concurrency=4)
    embed = start_worker("server-embed", "embed", env, logs, concurrency=2)
    try:
        yield embed
    finally:
        for worker in (io, embed):
            worker.stop(grace=20)


def busy_intervals(log: str) -> dict[str, list[tuple[datetime, datetime]]]:
    """Per pool process, when it ran each embed batch (from Celery's own success lines)."""
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for m in SUCCEEDED.finditer(log):
        end = datetime.strptime(m["at"], "%Y-%m-%d %H:%M:%S,%f")
        spans.setdefault(m["process"], []).append(
            (end - timedelta(seconds=float(m["seconds"])), end)
        )
    return spans


def test_two_embed_processes_write_one_server_at_once_and_the_count_is_exact(
    own_servers: OwnServers, embed_worker: Service
) -> None:
    collection = "server_mode_exact"
    result = own_servers.ingest(collection, "1001", "1002", "1003")
    assert result.code == 0, result.stderr
    expected = expected_chunk_ids(own_servers.books)
    store = ChunkStore.connect(own_servers.chroma_url, collection)
    assert result.json()["chunks"] == len(expected) == store.count()  # type: ignore[index]
    assert set(store.all_ids()) == expected

    spans = busy_intervals(embed_worker.log_path.read_text())
    assert len(spans) == 2, f"batches ran in {sorted(spans)}, expected two pool processes"
    first, second = spans.values()
    assert any(a0 < b1 and b0 < a1 for a0, a1 in first for b0, b1 in second), (
        "the two embed processes never ran a batch at the same time"
    )


@pytest.mark.usefixtures("embed_worker")
def test_no_process_but_the_server_opens_a_chroma_directory(own_servers: OwnServers) -> None:
    collection = "server_mode_dirs"
    ingest = own_servers.ingest(collection, "1002")
    assert ingest.code == 0, ingest.stderr
    query = ["query", "pruning climbing roses", "-k", "3", "--json", "--collection", collection]
    hits = run_cli(query, own_servers.client_env())
    assert hits.code == 0, hits.stderr
    assert [h["book_id"] for h in hits.json()] == ["1002"] * 3  # type: ignore[union-attr]
    assert (own_servers.chroma_dir / "chroma.sqlite3").is_file()
    # The workers' data directory holds their download cache, and neither it nor the client's
    # holds a Chroma store.
    assert list((own_servers.root / "workers" / "cache").rglob("*"))
    for data_dir in (own_servers.root / "client", own_servers.root / "workers"):
        assert not list(data_dir.rglob("chroma.sqlite3")), data_dir
