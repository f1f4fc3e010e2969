"""`kill -9` of one embed pool process in the middle of an ingest loses and duplicates nothing."""

from __future__ import annotations

import os
import signal

import pytest

from tests.faults.cluster import FaultCluster, start_ingest, wait_for
from tests.faults.conftest import (
    BOOKS,
    COLLECTION,
    current_run,
    exact,
    redelivered,
    summary,
    wait_batches,
)
from tests.faults.report import RecordProperty

pytestmark = [pytest.mark.e2e]


@pytest.mark.reliability(
    "fault", "`kill -9` of a busy embed pool process mid-ingest", order=1
)
def test_a_killed_embed_process_loses_no_batch(
    private_cluster: FaultCluster, expected: set[str], record_property: RecordProperty
) -> None:
    cluster = private_cluster
    cluster.start_standard_workers()
    ingest = start_ingest(cluster, COLLECTION, *BOOKS)
    try:
        run = current_run(cluster)
        wait_batches(cluster, run, 3)
        busy = wait_for(lambda: cluster.busy_pool_pids("embed"), 30, "a busy embed process")
        os.kill(busy[0], signal.SIGKILL)
        out, err = ingest.communicate(timeout=150)
    finally:
        ingest.kill()
    assert ingest.returncode == 0, err
    result = summary(out)
    log = cluster.log("embed")
    assert "SIGKILL" in log or "WorkerLostError" in log, "the worker did not see its process die"
    assert result["chunks"] == result["chunks_stored"] == len(expected)
    stored = exact(cluster, expected)
    assert not cluster.leaked_secret(out, err)
    record_property(
        "checked", "exit 0; ledger chunks == stored == expected; stored ids == expected ids"
    )
    record_property(
        "observed",
        f"{stored}; {redelivered(log)} batch(es) redelivered after the process died",
    )
