"""Ctrl-C or SIGTERM of `ragmill ingest`, then the same command again: it does only what is left."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from tests.faults.cluster import FaultCluster, run_ingest
from tests.faults.harness import (
    BOOKS,
    COLLECTION,
    embedded_chunks,
    exact,
    finish_row,
    ingest_in_background,
    stored_ids,
    summary,
)
from tests.faults.report import RecordProperty
from tests.support.cli import RAGMILL
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e]


def status(cluster: FaultCluster, run: str) -> dict[str, object]:
    done = subprocess.run(
        [RAGMILL, "status", run, "--json"], env=cluster.env(), capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    record: dict[str, object] = json.loads(done.stdout)[0]
    return record


STOPS = {
    "SIGINT": "Ctrl-C (SIGINT) of `ragmill ingest` mid-run, then the same command again",
    "SIGTERM": "SIGTERM (a service manager's stop) of `ragmill ingest` mid-run, then the same "
    "command again",
}


@pytest.mark.reliability("fault", STOPS["SIGINT"], order=3)
@pytest.mark.parametrize("stop", list(STOPS))
def test_an_interrupted_ingest_resumes_without_embedding_anything_twice(
    stop: str, cluster: FaultCluster, expected: set[str], record_property: RecordProperty
) -> None:
    record_property("case", STOPS[stop])
    with ingest_in_background(cluster) as first:
        first.wait_until_stored(4)
        first.interrupt(signal.Signals[stop])
        first.finish(timeout=60)
    out, err, run = first.out, first.err, first.run
    assert first.returncode == 130, err
    assert first.summary()["interrupted"] is True
    assert "Run the same command again" in err
    # The cancelled run's queued tasks are dropped by the workers, unrun.
    wait_for(cluster.idle, 60, "the workers to drop the cancelled run's queued tasks", step=0.5)
    stored_before = len(stored_ids(cluster))
    left = status(cluster, run)
    assert left["interrupted"] is True
    assert 0 < stored_before < len(expected)
    assert left["chunks_stored"] == stored_before
    assert left["books_left"] or left["chunks_left"]

    again = run_ingest(cluster, COLLECTION, *BOOKS)
    assert again.returncode == 0, again.stderr
    second = summary(again.stdout)
    assert second["chunks_already_stored"] == stored_before
    assert second["chunks_new"] == len(expected) - stored_before
    stored = exact(cluster, expected)
    # Every encode call of both runs, from the worker's own log: each chunk was embedded once.
    embedded = embedded_chunks(cluster.log("embed"))
    assert embedded == len(expected)
    done = status(cluster, second["run"])
    assert done["books_left"] == 0 and done["chunks_left"] == 0
    finish_row(
        cluster, record_property, out, err, again.stdout, again.stderr,
        checked="exit 130 then 0; `ragmill status` of run 1 shows it interrupted with work "
        "left; run 2 skips what run 1 stored; chunks encoded over both runs (worker log) == "
        "expected",
        observed=f"run 1 stored {stored_before}, run 2 skipped "
        f"{second['chunks_already_stored']} and embedded {second['chunks_new']}; {embedded} "
        f"chunks encoded in all; {stored}",
    )
