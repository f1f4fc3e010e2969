"""`kill -9` of one embed pool process in the middle of an ingest loses and duplicates nothing."""

from __future__ import annotations

import os
import signal

import pytest

from tests.faults.cluster import FaultCluster
from tests.faults.harness import finish_row, ingest_in_background, redelivered
from tests.faults.report import RecordProperty
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e]


@pytest.mark.reliability(
    "fault", "`kill -9` of a busy embed pool process mid-ingest", order=1
)
def test_a_killed_embed_process_loses_no_batch(
    cluster: FaultCluster, expected: set[str], record_property: RecordProperty
) -> None:
    with ingest_in_background(cluster) as ingest:
        ingest.wait_until_stored(3)
        busy = wait_for(lambda: cluster.busy_pool_pids("embed"), 30, "a busy embed process")
        os.kill(busy[0], signal.SIGKILL)
        ingest.finish(timeout=150)
    log = cluster.log("embed")
    assert "SIGKILL" in log or "WorkerLostError" in log, "the worker did not see its process die"
    stored = ingest.assert_complete(expected)
    finish_row(
        cluster, record_property, ingest.out, ingest.err,
        checked="exit 0; ledger chunks == stored == expected; stored ids == expected ids",
        observed=f"{stored}; {redelivered(log)} batch(es) redelivered after the process died",
    )
