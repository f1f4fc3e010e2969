"""redis-server stopped in the middle of an ingest and started again: the ingest still lands."""

from __future__ import annotations

import pytest

from tests.faults.cluster import FaultCluster, run_ingest
from tests.faults.harness import (
    BOOKS,
    COLLECTION,
    OUTAGE_SECONDS,
    exact,
    finish_row,
    ingest_through_outage,
)
from tests.faults.report import RecordProperty

pytestmark = [pytest.mark.e2e]


@pytest.mark.reliability(
    "fault",
    f"redis-server (appendonly) stopped mid-ingest for {OUTAGE_SECONDS} s, then started",
    order=4,
)
def test_workers_and_client_ride_out_a_redis_restart(
    cluster: FaultCluster, expected: set[str], record_property: RecordProperty
) -> None:
    ingest, before = ingest_through_outage(cluster, "redis")
    outcome = "the ingest went on and completed"
    reruns = 0
    if ingest.returncode != 0:
        # Allowed: a clear one-line message after a bounded wait, and the rerun finishes.
        assert "lost Redis" in ingest.err and "run the same command" in ingest.err, ingest.err
        outcome = f"the ingest stopped with: {ingest.err.strip().splitlines()[-1]}"
        again = run_ingest(cluster, COLLECTION, *BOOKS)
        assert again.returncode == 0, again.stderr
        reruns = 1
        stored = exact(cluster, expected)
    else:
        stored = ingest.assert_complete(expected)
    log = cluster.log("embed") + cluster.log("io")
    reconnected = log.count("Connected to redis://")
    assert reconnected >= 4, "the workers did not reconnect"
    finish_row(
        cluster, record_property, ingest.out, ingest.err,
        checked="workers reconnect; exit 0 (or a clear error and a rerun that completes); "
        "stored ids == expected ids",
        observed=f"stopped after {before.batches_done} batches; {outcome}"
        f"{' after one rerun' if reruns else ''}; workers connected {reconnected} times "
        f"in all; {stored}",
    )
