"""A seeded chaos drill: embed processes killed, the io worker killed and restarted and Redis
restarted, at random moments of one ingest; it must end complete with every chunk stored once.

The schedule is drawn from a seeded generator (SEED), so a failure replays with the same
faults in the same order at the same offsets; the ingest is bounded by `finish`'s timeout.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable

import pytest

from tests.faults.cluster import FaultCluster
from tests.faults.harness import OUTAGE_SECONDS, finish_row, ingest_in_background
from tests.faults.report import RecordProperty

pytestmark = [pytest.mark.e2e]

SEED = int(os.environ.get("RAGMILL_CHAOS_SEED", "27"))
# Offsets, in seconds after the third stored batch, are drawn from this span.
SPAN = 8.0
FAULTS = ("kill an embed process", "kill an embed process", "kill and restart the io worker",
          "restart Redis")


def schedule(rng: random.Random) -> list[tuple[float, str]]:
    """Each fault of FAULTS at a random offset, in the order they fall."""
    return sorted((round(rng.uniform(0, SPAN), 1), fault) for fault in FAULTS)


def actions(cluster: FaultCluster, rng: random.Random) -> dict[str, Callable[[], str]]:
    def kill_embed_process() -> str:
        children = cluster.pool_children("embed")
        if not children:
            return "no embed process to kill"
        pid = rng.choice(children)
        os.kill(pid, signal.SIGKILL)
        return f"killed embed process {pid}"

    def kill_io_worker() -> str:
        cluster.kill_worker("io")
        cluster.start_worker("io", concurrency=4, wait=False)
        return "killed the io worker and started another"

    def restart_redis() -> str:
        cluster.outage("redis", OUTAGE_SECONDS)
        return f"Redis down {OUTAGE_SECONDS} s"

    return {
        "kill an embed process": kill_embed_process,
        "kill and restart the io worker": kill_io_worker,
        "restart Redis": restart_redis,
    }


@pytest.mark.reliability(
    "fault", f"seeded chaos (seed {SEED}): {', '.join(FAULTS)}, at random moments", order=11
)
def test_a_seeded_chaos_drill_ends_complete_with_every_chunk_stored_once(
    cluster: FaultCluster, expected: set[str], record_property: RecordProperty
) -> None:
    rng = random.Random(SEED)
    plan = schedule(rng)
    act = actions(cluster, rng)
    done: list[str] = []
    with ingest_in_background(cluster) as ingest:
        ingest.wait_until_stored(3)
        began = time.monotonic()
        for offset, fault in plan:
            time.sleep(max(0.0, began + offset - time.monotonic()))
            done.append(f"{time.monotonic() - began:.1f} s: {act[fault]()}")
        ingest.finish(timeout=150)
        seconds = time.monotonic() - began
    stored = ingest.assert_complete(expected)
    resent = ingest.summary()["resent"]
    finish_row(
        cluster, record_property, ingest.out, ingest.err,
        checked="exit 0; ledger chunks == stored == expected; stored ids == expected ids, none "
        "twice",
        observed=f"{'; '.join(done)}; {stored}; {resent} fetch(es) re-sent; ended "
        f"{seconds:.0f} s after the first fault window opened",
    )
