"""Many nodes: two embed worker nodes, started as two machines would start them, share one ingest.

Each node is its own `celery -A tasks worker` command (docker/start-worker-embed, the script the
compose service runs) with its own node name, settings and data directory, against one Redis
and one Chroma server, all on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pipeline.stack import broker
from pipeline.stack.local import service_env
from pipeline.stack.processes import Service, spawn, wait_until
from tasks.fetch import split_batches
from tasks.ledger import RunLedger
from tasks.store import ChunkStore
from tests.e2e.conftest import OwnServers
from tests.support.servers import start_worker

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
HOST = os.uname().nodename
# What each "machine" sets in its environment besides REDIS_URL and CHROMA_URL.
NODES = {
    "embed-a": {"EMBED_BATCH_SIZE": "8"},
    "embed-b": {"EMBED_BATCH_SIZE": "32"},
}


def nodes_answering(redis_url: str) -> set[str]:
    with broker.control(redis_url) as client:
        return broker.nodes_answering(client, timeout=1.0)


def start_node(name: str, settings: dict[str, str], shared: dict[str, str], root: Path) -> Service:
    """One embed node, as a second machine would run it: its own data directory and settings."""
    env = service_env(root / name)
    env.update(shared)
    env.update(settings)
    env.update(
        WORKER_NAME=f"{name}@%h",
        EMBED_CONCURRENCY="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return spawn(
        name,
        [str(ROOT / "docker" / "start-worker-embed")],
        env=env,
        log_path=root / "logs" / f"{name}.log",
        cwd=root / name,
    )


@pytest.fixture(scope="module")
def two_nodes(own_servers: OwnServers) -> Iterator[OwnServers]:
    """The module's servers with an io worker and both embed nodes answering."""
    root = own_servers.root
    shared = {"REDIS_URL": own_servers.redis_url, "CHROMA_URL": own_servers.chroma_url}
    io_env = {**service_env(root / "io"), **shared, "RAGMILL_BATCH_CHUNKS": "4"}
    started: list[Service] = []
    try:
        started.append(start_worker("nodes-io", "io", io_env, root / "logs", concurrency=4))
        for name, settings in NODES.items():
            (root / name).mkdir()
            started.append(start_node(name, settings, shared, root))
        wanted = {f"{name}@{HOST}" for name in NODES}
        wait_until(
            lambda: wanted <= nodes_answering(own_servers.redis_url),
            service=started[-1],
            timeout=90,
            what="celery ping from both embed nodes",
        )
        yield own_servers
    finally:
        for service in reversed(started):
            service.stop(grace=20)


def test_both_nodes_embed_batches_of_one_ingest_and_the_count_is_exact(
    two_nodes: OwnServers,
) -> None:
    collection = "two_nodes"
    result = two_nodes.ingest(collection, "1001", "1002", "1003")
    assert result.code == 0, result.stderr
    summary = result.json()
    assert isinstance(summary, dict)
    store = ChunkStore.connect(two_nodes.chroma_url, collection)
    assert summary["books_done"] == 3 and summary["books_failed"] == 0
    assert store.count() == summary["chunks"] == summary["chunks_new"]
    assert len(set(store.all_ids())) == store.count()

    ledger = RunLedger(redis.Redis.from_url(two_nodes.redis_url), summary["run"])
    by_node = ledger.batches_by_node()
    print(f"embed batches per node: {by_node}; chunks {store.count()}")
    assert set(by_node) == {f"{name}@{HOST}" for name in NODES}
    assert all(n > 0 for n in by_node.values()), by_node
    # Each batch is credited to exactly one node, and every chunk came in some batch.
    assert sum(by_node.values()) == ledger.snapshot().batches_done
    assert ledger.snapshot().chunks_stored == store.count()
    # Exactly one book, the last to be cut, ended in batches of a quarter of the limit (here 1).
    found = store.collection.get(include=["metadatas"])["metadatas"] or []
    per_book = Counter(str(m["book_id"]) for m in found)
    batches = {b: len(split_batches(list(range(n)), 4)) for b, n in per_book.items()}
    fine = {b: len(split_batches(list(range(n)), 4, fine_tail=True)) for b, n in per_book.items()}
    total = sum(batches.values())
    assert ledger.snapshot().batches_done in {total - batches[b] + fine[b] for b in per_book}
    assert ledger.snapshot().batches_done > total

    # The nodes' own counters agree: each ran at least the batches the ledger credits it with.
    with broker.control(two_nodes.redis_url) as client:
        stats = client.control.inspect(timeout=2.0).stats() or {}
    for node, batches in by_node.items():
        assert stats[node]["total"].get("ragmill.embed_batch", 0) >= batches, node
