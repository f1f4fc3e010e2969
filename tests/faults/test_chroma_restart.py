"""The Chroma server stopped in the middle of an ingest and started again: no batch is dropped."""

from __future__ import annotations

import re

import pytest

from tests.faults.cluster import FaultCluster
from tests.faults.harness import OUTAGE_SECONDS, finish_row, ingest_through_outage
from tests.faults.report import RecordProperty

pytestmark = [pytest.mark.e2e]


@pytest.mark.reliability(
    "fault", f"Chroma server stopped mid-ingest for {OUTAGE_SECONDS} s, then started", order=5
)
def test_batches_that_failed_to_store_are_retried(
    cluster: FaultCluster, expected: set[str], record_property: RecordProperty
) -> None:
    ingest, before = ingest_through_outage(cluster, "chroma")
    stored = ingest.assert_complete(expected)
    assert ingest.summary()["failures"] == {}
    log = cluster.log("embed") + cluster.log("io")
    retries = len(re.findall(r"ragmill\.\w+\[[0-9a-f-]+\] retry: Retry in", log))
    assert retries >= 1, "no task failed while Chroma was down; the fault missed the ingest"
    finish_row(
        cluster, record_property, ingest.out, ingest.err,
        checked="exit 0, no failure; tasks that hit the outage retried (worker log); "
        "ledger chunks == stored == expected; stored ids == expected ids",
        observed=f"stopped after {before.batches_done} batches; {retries} task retries; {stored}",
    )
