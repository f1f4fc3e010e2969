"""Fixtures of the fault tests: a private cluster per test and the chunk ids it must end with."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tasks.progress import RunLedger, Snapshot, recent_runs
from tasks.store import ChunkStore
from tests.faults.cluster import FaultCluster, big_books, expected_ids, fault_cluster, wait_for

# Three books of ~100 chunks each in ~13 batches: an ingest lasts long enough to break.
BOOKS = big_books({"2001": "1001", "2002": "1002", "2003": "1003"}, paragraphs=80)
COLLECTION = "faults"

_SUCCEEDED = re.compile(r"ragmill\.embed_batch\[[0-9a-f-]+\] succeeded in [0-9.]+s: (\{.*\})")
_RECEIVED = re.compile(r"ragmill\.embed_batch\[([0-9a-f-]+)\] received")


@pytest.fixture(scope="session")
def expected() -> set[str]:
    return expected_ids(BOOKS)


@pytest.fixture
def private_cluster(tmp_path: Path) -> Iterator[FaultCluster]:
    with fault_cluster(tmp_path, BOOKS) as cluster:
        yield cluster


def current_run(cluster: FaultCluster) -> str:
    """The id of the run the test started (the only one in this cluster's Redis)."""
    runs: list[str] = wait_for(lambda: recent_runs(cluster.client()), 60, "the run to start")
    return runs[0]


def snapshot(cluster: FaultCluster, run: str) -> Snapshot:
    return RunLedger(cluster.client(), run).snapshot()


def wait_batches(cluster: FaultCluster, run: str, n: int, timeout: float = 120) -> Snapshot:
    """Wait until `n` embed batches of `run` are stored, so a fault hits the middle of it."""
    return wait_for(
        lambda: (s := snapshot(cluster, run)).batches_done >= n and s, timeout,
        f"{n} stored batches",
    )


def stored_ids(cluster: FaultCluster) -> list[str]:
    return ChunkStore.connect(cluster.chroma_url, COLLECTION).all_ids()


def exact(cluster: FaultCluster, expected: set[str]) -> str:
    """Assert the collection holds exactly the expected chunks, each once; describe it."""
    ids = stored_ids(cluster)
    assert len(ids) == len(set(ids)), "a chunk id is stored twice"
    assert set(ids) == expected, (
        f"{len(expected - set(ids))} chunks missing, {len(set(ids) - expected)} unexpected"
    )
    return f"{len(ids)} of {len(expected)} chunks stored, no duplicate id"


def summary(stdout: str) -> dict[str, Any]:
    """The JSON summary `ragmill ingest --json` printed."""
    data: dict[str, Any] = json.loads(stdout)
    return data


def embedded_chunks(log: str) -> int:
    """Chunks encoded by the embed batches a worker log reports as succeeded (skips excluded)."""
    total = 0
    for match in _SUCCEEDED.finditer(log):
        result = match.group(1)
        found = re.search(r"'chunks': (\d+)", result)
        if found and "skipped" not in result:
            total += int(found.group(1))
    return total


def redelivered(log: str) -> int:
    """Embed batch tasks a worker log shows received more than once."""
    counts = Counter(_RECEIVED.findall(log))
    return sum(1 for n in counts.values() if n > 1)
