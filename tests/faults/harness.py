"""The sequence every fault test shares: ingest in the background, break something, check the end.

A test reads as the fault and what must hold:

    with ingest_in_background(cluster) as ingest:
        ingest.wait_until_stored(3)          # the fault lands in the middle of the work
        cluster.kill_worker("embed")         # the fault
        ingest.finish()
    stored = ingest.assert_complete(expected)
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from tasks.ledger import RunLedger, Snapshot, recent_runs
from tasks.store import ChunkStore
from tests.faults.cluster import FaultCluster, big_books, start_ingest
from tests.faults.report import RecordProperty
from tests.support.waiting import wait_for

# Three books of ~100 chunks each in ~13 batches: an ingest lasts long enough to break.
BOOKS = big_books({"2001": "1001", "2002": "1002", "2003": "1003"}, paragraphs=80)
COLLECTION = "faults"
# How long a server stays stopped in an outage: clients and workers meet it and must wait it out.
OUTAGE_SECONDS = 4

_SUCCEEDED = re.compile(r"ragmill\.embed_batch\[[0-9a-f-]+\] succeeded in [0-9.]+s: (\{.*\})")
_RECEIVED = re.compile(r"ragmill\.embed_batch\[([0-9a-f-]+)\] received")


def current_run(cluster: FaultCluster, earlier: frozenset[str] = frozenset()) -> str:
    """The id of the run the test started: the newest in this cluster's Redis, not `earlier`."""
    runs: list[str] = wait_for(
        lambda: [r for r in recent_runs(cluster.client()) if r not in earlier], 60,
        "the run to start",
    )
    return runs[0]


def snapshot(cluster: FaultCluster, run: str) -> Snapshot:
    return RunLedger(cluster.client(), run).snapshot()


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


@dataclass
class BackgroundIngest:
    """A `ragmill ingest --json` of the cluster's books, running until the test finishes it."""

    cluster: FaultCluster
    process: subprocess.Popen[str]
    out: str = ""
    err: str = ""
    # Runs of this cluster that ended before this one started.
    earlier: frozenset[str] = frozenset()

    @cached_property
    def run(self) -> str:
        return current_run(self.cluster, self.earlier)

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def wait_until_stored(self, batches: int, timeout: float = 120) -> Snapshot:
        """Wait until `batches` embed batches of the run are stored, so a fault hits its middle."""
        return wait_for(
            lambda: (s := snapshot(self.cluster, self.run)).batches_done >= batches and s,
            timeout,
            f"{batches} stored batches",
        )

    def interrupt(self, signum: int = signal.SIGINT) -> None:
        """Ctrl-C, as a person at the terminal would press it (or `signum`, e.g. a service
        manager's SIGTERM)."""
        self.process.send_signal(signum)

    def finish(self, timeout: float = 180) -> None:
        """Wait for the ingest to end and keep what it printed."""
        self.out, self.err = self.process.communicate(timeout=timeout)

    def summary(self) -> dict[str, Any]:
        return summary(self.out)

    def assert_complete(self, expected: set[str]) -> str:
        """Assert exit 0, ledger chunks == stored == expected, and exactly `expected` stored."""
        assert self.returncode == 0, self.err
        result = self.summary()
        assert result["chunks"] == result["chunks_stored"] == len(expected)
        return exact(self.cluster, expected)


@contextmanager
def ingest_in_background(
    cluster: FaultCluster, books: list[str] | None = None
) -> Iterator[BackgroundIngest]:
    """Start `ragmill ingest` of `books` (default: BOOKS); kill it if the block ends early."""
    earlier = frozenset(recent_runs(cluster.client()))
    process = start_ingest(cluster, COLLECTION, *(books or BOOKS))
    try:
        yield BackgroundIngest(cluster, process, earlier=earlier)
    finally:
        process.kill()


def ingest_through_outage(cluster: FaultCluster, service: str) -> tuple[BackgroundIngest, Snapshot]:
    """Ingest BOOKS and stop `service` for OUTAGE_SECONDS once 3 batches are stored.

    Returns the finished ingest and the run's counters when the outage began.
    """
    with ingest_in_background(cluster) as ingest:
        before = ingest.wait_until_stored(3)
        cluster.outage(service, OUTAGE_SECONDS)
        ingest.finish()
    return ingest, before


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


def finish_row(
    cluster: FaultCluster, record_property: RecordProperty, *outputs: str, checked: str,
    observed: str,
) -> None:
    """How every fault test ends: nothing the commands printed shows the cluster's secret, and
    the test's row of the reliability table says what it checked and what it saw."""
    assert not cluster.leaked_secret(*outputs)
    record_property("checked", checked)
    record_property("observed", observed)
