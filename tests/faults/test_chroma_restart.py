"""The Chroma server stopped in the middle of an ingest and started again: no batch is dropped."""

from __future__ import annotations

import re
import time

import pytest

from tests.faults.cluster import FaultCluster, start_ingest
from tests.faults.conftest import BOOKS, COLLECTION, current_run, exact, summary, wait_batches
from tests.faults.report import RecordProperty

pytestmark = [pytest.mark.e2e]

OUTAGE_SECONDS = 4


@pytest.mark.reliability(
    "fault", f"Chroma server stopped mid-ingest for {OUTAGE_SECONDS} s, then started", order=5
)
def test_batches_that_failed_to_store_are_retried(
    private_cluster: FaultCluster, expected: set[str], record_property: RecordProperty
) -> None:
    cluster = private_cluster
    cluster.start_standard_workers()
    ingest = start_ingest(cluster, COLLECTION, *BOOKS)
    try:
        run = current_run(cluster)
        before = wait_batches(cluster, run, 3)
        cluster.stop_chroma()
        time.sleep(OUTAGE_SECONDS)
        cluster.start_chroma()
        out, err = ingest.communicate(timeout=180)
    finally:
        ingest.kill()
    assert ingest.returncode == 0, err
    result = summary(out)
    assert result["chunks"] == result["chunks_stored"] == len(expected)
    assert result["failures"] == {}
    stored = exact(cluster, expected)
    log = cluster.log("embed") + cluster.log("io")
    retries = len(re.findall(r"ragmill\.\w+\[[0-9a-f-]+\] retry: Retry in", log))
    assert retries >= 1, "no task failed while Chroma was down; the fault missed the ingest"
    assert not cluster.leaked_secret(out, err)
    record_property(
        "checked", "exit 0, no failure; tasks that hit the outage retried (worker log); "
        "ledger chunks == stored == expected; stored ids == expected ids",
    )
    record_property(
        "observed",
        f"stopped after {before.batches_done} batches; {retries} task retries; {stored}",
    )
