"""`kill -9` of a whole embed worker, then a restart: its taken batches come back, exactly once."""

from __future__ import annotations

import time

import pytest

from tests.faults.cluster import VISIBILITY_TIMEOUT, FaultCluster
from tests.faults.harness import finish_row, ingest_in_background
from tests.faults.report import RecordProperty

pytestmark = [pytest.mark.e2e]


@pytest.mark.reliability(
    "fault",
    "`kill -9` of a whole embed worker (parent and pool) mid-ingest, then a restart",
    order=2,
)
def test_a_killed_and_restarted_worker_finishes_the_ingest(
    cluster: FaultCluster, expected: set[str], record_property: RecordProperty
) -> None:
    with ingest_in_background(cluster) as ingest:
        before = ingest.wait_until_stored(3)
        # The messages the worker had taken stay unacknowledged in Redis until the visibility
        # timeout (RAGMILL_VISIBILITY_TIMEOUT) gives them to the next worker.
        unacked = cluster.client().hlen("unacked")
        cluster.kill_worker("embed")
        killed_at = time.monotonic()
        cluster.start_worker("embed", concurrency=2)
        ingest.finish()
        finished_after = time.monotonic() - killed_at
    stored = ingest.assert_complete(expected)
    finish_row(
        cluster, record_property, ingest.out, ingest.err,
        checked="exit 0; ledger chunks == stored == expected; stored ids == expected ids",
        observed=f"{stored}; killed after {before.batches_done} batches with {unacked} message(s) "
        f"taken; done {finished_after:.0f} s later (visibility timeout {VISIBILITY_TIMEOUT} s)",
    )
