"""Chroma in server mode: with CHROMA_URL set, every process writes and reads through `chroma run`.

Two prefork processes of one embed worker upsert into the same server at the same time; the
count must still be exact, and no process may open a Chroma directory of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pipeline.processes import Service
from pipeline.stack import service_env
from tasks.store import ChunkStore
from tests.conftest import run_cli
from tests.support.books import expected_chunk_ids
from tests.support.mirror import Mirror
from tests.support.servers import chroma_server, redis_server, start_worker

pytestmark = pytest.mark.e2e

# "[2026-11-23 07:15:17,636: INFO/ForkPoolWorker-2] Task ragmill.embed_batch[id] succeeded in 8.1s"
SUCCEEDED = re.compile(
    r"^\[(?P<at>[\d-]+ [\d:]+,\d+): INFO/(?P<process>ForkPoolWorker-\d+)\] "
    r"Task ragmill\.embed_batch\[[^\]]+\] succeeded in (?P<seconds>[\d.]+)s",
    re.MULTILINE,
)


@dataclass
class ServerCluster:
    redis_url: str
    chroma_url: str
    chroma_dir: Path
    root: Path
    embed: Service
    mirror: Mirror
    books: dict[str, bytes]

    def client_env(self) -> dict[str, str]:
        env = service_env(self.root / "client")
        env.update(
            REDIS_URL=self.redis_url,
            CHROMA_URL=self.chroma_url,
            GUTENBERG_MIRROR=self.mirror.url,
        )
        return env


@pytest.fixture(scope="module")
def server_cluster(
    tmp_path_factory: pytest.TempPathFactory, mirror: tuple[Mirror, dict[str, bytes]]
) -> Iterator[ServerCluster]:
    root = tmp_path_factory.mktemp("chroma-server")
    with redis_server(root / "redis") as redis_url, chroma_server(root / "server") as chroma_url:
        env = service_env(root / "workers")
        # Small batches, so the two embed processes have many to share.
        env.update(REDIS_URL=redis_url, CHROMA_URL=chroma_url, RAGMILL_BATCH_CHUNKS="4")
        logs = root / "logs"
        io = start_worker("server-io", "io", env, logs, concurrency=4)
        embed = start_worker("server-embed", "embed", env, logs, concurrency=2)
        try:
            yield ServerCluster(
                redis_url, chroma_url, root / "server" / "chroma", root, embed, *mirror
            )
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
    server_cluster: ServerCluster,
) -> None:
    collection = "server_mode_exact"
    result = run_cli(
        ["ingest", "--json", "--no-progress", "--collection", collection, "1001", "1002", "1003"],
        server_cluster.client_env(),
    )
    assert result.code == 0, result.stderr
    expected = expected_chunk_ids(server_cluster.books)
    store = ChunkStore.connect(server_cluster.chroma_url, collection)
    assert result.json()["chunks"] == len(expected) == store.count()  # type: ignore[index]
    assert set(store.all_ids()) == expected

    spans = busy_intervals(server_cluster.embed.log_path.read_text())
    assert len(spans) == 2, f"batches ran in {sorted(spans)}, expected two pool processes"
    first, second = spans.values()
    assert any(a0 < b1 and b0 < a1 for a0, a1 in first for b0, b1 in second), (
        "the two embed processes never ran a batch at the same time"
    )


def test_no_process_but_the_server_opens_a_chroma_directory(
    server_cluster: ServerCluster,
) -> None:
    collection = "server_mode_dirs"
    env = server_cluster.client_env()
    ingest = run_cli(["ingest", "--json", "--no-progress", "--collection", collection, "1002"], env)
    assert ingest.code == 0, ingest.stderr
    query = ["query", "pruning climbing roses", "-k", "3", "--json", "--collection", collection]
    hits = run_cli(query, env)
    assert hits.code == 0, hits.stderr
    assert [h["book_id"] for h in hits.json()] == ["1002"] * 3  # type: ignore[union-attr]
    assert (server_cluster.chroma_dir / "chroma.sqlite3").is_file()
    # The workers' data directory holds their download cache, and neither it nor the client's
    # holds a Chroma store.
    assert list((server_cluster.root / "workers" / "cache").rglob("*"))
    for data_dir in (server_cluster.root / "client", server_cluster.root / "workers"):
        assert not list(data_dir.rglob("chroma.sqlite3")), data_dir
