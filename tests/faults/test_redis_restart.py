"""redis-server stopped in the middle of an ingest and started again: the ingest still lands."""

from __future__ import annotations

import time

import pytest

from tests.faults.cluster import FaultCluster, run_ingest, start_ingest
from tests.faults.conftest import BOOKS, COLLECTION, current_run, exact, summary, wait_batches
from tests.faults.report import RecordProperty

pytestmark = [pytest.mark.e2e]

OUTAGE_SECONDS = 4


@pytest.mark.reliability(
    "fault",
    f"redis-server (appendonly) stopped mid-ingest for {OUTAGE_SECONDS} s, then started",
    order=4,
)
def test_workers_and_client_ride_out_a_redis_restart(
    private_cluster: FaultCluster, expected: set[str], record_property: RecordProperty
) -> None:
    cluster = private_cluster
    cluster.start_standard_workers()
    ingest = start_ingest(cluster, COLLECTION, *BOOKS)
    try:
        run = current_run(cluster)
        before = wait_batches(cluster, run, 3)
        cluster.stop_redis()
        time.sleep(OUTAGE_SECONDS)
        cluster.start_redis()
        out, err = ingest.communicate(timeout=180)
    finally:
        ingest.kill()
    outcome = "the ingest went on and completed"
    reruns = 0
    if ingest.returncode != 0:
        # Allowed: a clear one-line message after a bounded wait, and the rerun finishes.
        assert "lost Redis" in err and "run the same command" in err, err
        outcome = f"the ingest stopped with: {err.strip().splitlines()[-1]}"
        again = run_ingest(cluster, COLLECTION, *BOOKS)
        assert again.returncode == 0, again.stderr
        reruns = 1
    else:
        result = summary(out)
        assert result["chunks"] == result["chunks_stored"] == len(expected)
    stored = exact(cluster, expected)
    log = cluster.log("embed") + cluster.log("io")
    reconnected = log.count("Connected to redis://")
    assert reconnected >= 4, "the workers did not reconnect"
    assert not cluster.leaked_secret(out, err)
    record_property(
        "checked", "workers reconnect; exit 0 (or a clear error and a rerun that completes); "
        "stored ids == expected ids",
    )
    record_property(
        "observed",
        f"stopped after {before.batches_done} batches; {outcome}"
        f"{' after one rerun' if reruns else ''}; workers connected {reconnected} times "
        f"in all; {stored}",
    )
