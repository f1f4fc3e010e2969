"""`kill -9` of a whole embed worker, then a restart: its taken batches come back, exactly once."""

from __future__ import annotations

import time

import pytest

from tests.faults.cluster import VISIBILITY_TIMEOUT, FaultCluster, start_ingest
from tests.faults.conftest import BOOKS, COLLECTION, current_run, exact, summary, wait_batches
from tests.faults.report import RecordProperty

pytestmark = [pytest.mark.e2e]


@pytest.mark.reliability(
    "fault",
    "`kill -9` of a whole embed worker (parent and pool) mid-ingest, then a restart",
    order=2,
)
def test_a_killed_and_restarted_worker_finishes_the_ingest(
    private_cluster: FaultCluster, expected: set[str], record_property: RecordProperty
) -> None:
    cluster = private_cluster
    cluster.start_standard_workers()
    ingest = start_ingest(cluster, COLLECTION, *BOOKS)
    try:
        run = current_run(cluster)
        before = wait_batches(cluster, run, 3)
        # The messages the worker had taken stay unacknowledged in Redis until the visibility
        # timeout (RAGMILL_VISIBILITY_TIMEOUT) gives them to the next worker.
        unacked = cluster.client().hlen("unacked")
        cluster.kill_worker("embed")
        killed_at = time.monotonic()
        cluster.start_worker("embed", "embed", concurrency=2)
        out, err = ingest.communicate(timeout=180)
        finished_after = time.monotonic() - killed_at
    finally:
        ingest.kill()
    assert ingest.returncode == 0, err
    result = summary(out)
    assert result["chunks"] == result["chunks_stored"] == len(expected)
    stored = exact(cluster, expected)
    assert not cluster.leaked_secret(out, err)
    record_property(
        "checked",
        "exit 0; ledger chunks == stored == expected; stored ids == expected ids",
    )
    record_property(
        "observed",
        f"{stored}; killed after {before.batches_done} batches with {unacked} message(s) "
        f"taken; done {finished_after:.0f} s later (visibility timeout {VISIBILITY_TIMEOUT} s)",
    )
