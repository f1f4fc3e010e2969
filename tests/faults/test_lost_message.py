"""An embed message lost from Redis (kombu#305's outcome, made deterministic): the run re-sends
the missing work from its ledger and completes with every chunk stored once."""

from __future__ import annotations

import json
import time
from typing import cast

import pytest

from tasks.celery_config import stall_seconds
from tasks.settings import Settings
from tests.faults.cluster import VISIBILITY_TIMEOUT, FaultCluster
from tests.faults.harness import finish_row, ingest_in_background
from tests.faults.report import RecordProperty
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e]

STALL = stall_seconds(Settings.from_env({"RAGMILL_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)}))


@pytest.mark.reliability(
    "fault", "an embed message deleted from the Redis queue mid-run (a message lost)", order=5
)
def test_a_lost_embed_message_is_sent_again_and_the_run_completes(
    private_cluster: FaultCluster, expected: set[str], record_property: RecordProperty
) -> None:
    cluster = private_cluster
    cluster.start_worker("io", concurrency=4)
    client = cluster.client()
    with ingest_in_background(cluster) as ingest:
        # No embed worker yet: the run's batches wait in the embed queue, and one is lost.
        wait_for(lambda: client.llen("embed") >= 10, 90, "embed batches queued")
        lost = json.loads(cast(bytes, client.rpop("embed")))
        what = lost["headers"]["kwargsrepr"]
        assert f"run={ingest.run}" in what
        started = time.monotonic()
        cluster.start_worker("embed", concurrency=2)
        ingest.finish(timeout=150)
        seconds = time.monotonic() - started
    stored = ingest.assert_complete(expected)
    resent = ingest.summary()["resent"]
    assert resent >= 1
    assert f"Re-sent {resent} fetch" in ingest.err
    finish_row(
        cluster, record_property, ingest.out, ingest.err,
        checked=f"stall period {STALL:g} s (a third of RAGMILL_VISIBILITY_TIMEOUT="
        f"{VISIBILITY_TIMEOUT}): exit 0, the summary counts the re-send, ledger chunks == "
        "stored == expected, no id twice",
        observed=f"lost {what}; {resent} fetch(es) re-sent; {stored}; "
        f"{seconds:.0f} s from the embed worker's start to the end",
    )
