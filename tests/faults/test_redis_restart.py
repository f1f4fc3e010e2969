"""redis-server stopped in the middle of an ingest and started again: the ingest still lands, a
worker holding a retry reconnects, and the client's questions to the workers wait for Redis."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.stack.broker import client_app
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
from tests.support.waiting import wait_for

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


def test_the_client_asks_the_workers_through_a_redis_restart(
    private_cluster: FaultCluster,
) -> None:
    # What a stalled run asks (pipeline/ingest/submission.py); with no worker the answer is
    # None. The first question leaves a pooled connection that the restart cuts; the second is
    # asked while Redis is down and must wait for it, not raise ConnectionError.
    app = client_app(private_cluster.redis_url)
    assert app.control.inspect(timeout=0.5).active() is None
    private_cluster.stop_redis()
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(lambda: app.control.inspect(timeout=0.5).active())
        time.sleep(OUTAGE_SECONDS)
        # Started from this thread: a service dies with the thread that started it.
        private_cluster.start_redis()
        assert answer.result(timeout=60) is None


def test_a_worker_holding_a_retry_reconnects_after_a_redis_restart(
    private_cluster: FaultCluster,
) -> None:
    # A retry waits out its countdown in the worker, unacknowledged; Celery 5.7's own consumer
    # stopped the worker when Redis went away then (tasks/consumer.py).
    worker = private_cluster.start_worker("io", concurrency=2)
    app = client_app(private_cluster.redis_url)
    app.send_task("ragmill.fetch_book", kwargs={"message": {}}, queue="io", countdown=300)
    wait_for(lambda: "received" in private_cluster.log("io"), 30, "the worker to take the task")
    private_cluster.outage("redis", OUTAGE_SECONDS)
    private_cluster.wait_for_worker("io", timeout=60)
    assert worker.alive()
    assert "Unrecoverable error" not in private_cluster.log("io")
