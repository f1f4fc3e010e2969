"""A seeded chaos drill: one ingest of real books while embed processes are killed, the io worker
is killed and restarted, Redis and Chroma are restarted and Chroma hangs (SIGSTOP) for 30 s, at
random moments; it must end complete, with what a clean run stores, each chunk once, no
process left behind, and say how much longer it took than the clean run.

The books are real ones from the shared Gutenberg corpus (tests/support/shared.py), cut into
batches of BATCH_CHUNKS so a few books make several hundred embed batches; a clone without that
corpus runs the drill on the fault cluster's synthetic books. The schedule is drawn from a
seeded generator (RAGMILL_CHAOS_SEED), so a failure replays with the same faults in the same
order at the same offsets; every wait is bounded.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tasks.store import ChunkStore
from tests.faults.cluster import FaultCluster, expected_ids, fault_cluster, run_ingest
from tests.faults.harness import (
    BOOKS,
    OUTAGE_SECONDS,
    BackgroundIngest,
    finish_row,
    ingest_in_background,
    snapshot,
    stored_ids,
    summary,
)
from tests.faults.report import RecordProperty
from tests.support.shared import gutenberg_dir
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e]

SEED = int(os.environ.get("RAGMILL_CHAOS_SEED", "27"))
# Three real books (a book of songs, Aristotle's Poetics, Plato's Apology): about 560 chunks of
# 96 tokens in batches of two, about 290 embed batches. Two books in flight at once: the short
# first one lands early and the third is fetched while the second is embedded, so the io
# worker has work to lose in the middle of the run too.
REAL_BOOKS = ("17773", "1974", "1656")
SETTINGS = {"RAGMILL_BATCH_CHUNKS": "2", "RAGMILL_BOOKS_IN_FLIGHT": "2"}
# How long Chroma hangs: longer than a task's soft time limit (21 s of the fault cluster's 30 s
# visibility timeout), so an embed batch that meets the hang is ended by it and retried.
PAUSE_SECONDS = 30
# Offsets, in seconds after the third stored batch, are drawn from this span: well inside the
# clean run, so every fault meets work in flight.
SPAN = 12.0
FAULTS = (
    "kill an embed process",
    "kill an embed process",
    "kill and restart the io worker",
    "restart Redis",
    "restart Chroma",
    f"stop Chroma (SIGSTOP) for {PAUSE_SECONDS} s",
)
PAUSE, RESTART_CHROMA = FAULTS[-1], FAULTS[-2]
# Bounds of the two ingests (a clean one took 24-50 s on the loaded 2-core machine).
CLEAN_TIMEOUT = 90
CHAOS_TIMEOUT = 150


def real_books() -> dict[str, Path] | None:
    """Where REAL_BOOKS are in the shared corpus, or None on a clone without it."""
    paths = {book: gutenberg_dir() / f"pg{book}.txt" for book in REAL_BOOKS}
    return paths if all(path.is_file() for path in paths.values()) else None


def drill_books() -> dict[str, bytes]:
    """REAL_BOOKS from the shared corpus, or the fault cluster's synthetic books without it."""
    paths = real_books()
    if paths is None:
        return BOOKS
    return {book: path.read_bytes() for book, path in paths.items()}


def schedule(rng: random.Random) -> list[tuple[float, str]]:
    """Each fault of FAULTS at a random offset, in the order they fall.

    Chroma's restart and its pause take turns: whichever would begin while the other is under
    way begins a second after it ends (stopping a paused server would cut the hang short, and
    a server being restarted cannot be paused).
    """
    offsets = [round(rng.uniform(0, SPAN), 1) for _ in FAULTS]
    restart, pause = FAULTS.index(RESTART_CHROMA), FAULTS.index(PAUSE)
    if offsets[restart] <= offsets[pause] < offsets[restart] + OUTAGE_SECONDS + 1:
        offsets[pause] = offsets[restart] + OUTAGE_SECONDS + 1
    elif offsets[pause] <= offsets[restart] < offsets[pause] + PAUSE_SECONDS + 1:
        offsets[restart] = offsets[pause] + PAUSE_SECONDS + 1
    return sorted(zip(offsets, FAULTS, strict=True))


@dataclass(frozen=True)
class Fault:
    """What a fault does when it begins (and says what it did), and when it lasts, its end."""

    begin: Callable[[], str]
    end: Callable[[], None] | None = None
    lasts: float = 0.0


def faults(cluster: FaultCluster, rng: random.Random) -> dict[str, Fault]:
    killed: set[int] = set()

    def kill_embed_process() -> str:
        children = [pid for pid in cluster.pool_children("embed") if pid not in killed]
        if not children:
            return "no embed process to kill"
        pid = rng.choice(sorted(children))
        os.kill(pid, signal.SIGKILL)
        killed.add(pid)
        return f"killed embed process {pid}"

    def kill_io_worker() -> str:
        cluster.kill_worker("io")
        cluster.start_worker("io", concurrency=4, wait=False)
        return "killed the io worker and started another"

    def stopped(stop: Callable[[], None], what: str) -> Callable[[], str]:
        def act() -> str:
            stop()
            return what

        return act

    return {
        "kill an embed process": Fault(kill_embed_process),
        "kill and restart the io worker": Fault(kill_io_worker),
        "restart Redis": Fault(
            stopped(cluster.stop_redis, f"Redis down {OUTAGE_SECONDS} s"),
            cluster.start_redis, OUTAGE_SECONDS,
        ),
        RESTART_CHROMA: Fault(
            stopped(cluster.stop_chroma, f"Chroma down {OUTAGE_SECONDS} s"),
            cluster.start_chroma, OUTAGE_SECONDS,
        ),
        PAUSE: Fault(
            stopped(cluster.pause_chroma, f"Chroma stopped (SIGSTOP) for {PAUSE_SECONDS} s"),
            cluster.resume_chroma, PAUSE_SECONDS,
        ),
    }


def run_schedule(
    plan: list[tuple[float, str]], faults: dict[str, Fault], ingest: BackgroundIngest
) -> list[str]:
    """Begin each fault of `plan` at its offset from now and end it when it has lasted; one
    line per fault, saying when it began and what it did.

    Every step runs in this thread, one after another: a service is sent SIGTERM when the
    thread that started it ends (PR_SET_PDEATHSIG, pipeline/stack/processes.py), so one started
    again from a short-lived thread would die with it.
    """
    steps = sorted(
        [(offset, 0, i) for i, (offset, _) in enumerate(plan)]
        + [(offset + faults[name].lasts, 1, i) for i, (offset, name) in enumerate(plan)
           if faults[name].end is not None]
    )
    began = time.monotonic()
    lines: dict[int, str] = {}
    for offset, ending, i in steps:
        time.sleep(max(0.0, began + offset - time.monotonic()))
        fault = faults[plan[i][1]]
        if not ending:
            if ingest.process.poll() is not None:
                lines[i] = f"{offset:.1f} s: the run had ended before {plan[i][1]!r}"
            else:
                lines[i] = f"{time.monotonic() - began:.1f} s: {fault.begin()}"
        elif fault.end is not None and "had ended" not in lines[i]:
            fault.end()
    return [lines[i] for i in range(len(plan))]


def processes_left(cluster: FaultCluster) -> list[str]:
    """The cluster's processes still running a few seconds after it stopped (none, if well)."""
    with suppress(AssertionError):
        wait_for(lambda: not cluster.leftovers(), 15, "the cluster's processes to end")
    return cluster.leftovers()


@pytest.mark.reliability(
    "fault",
    f"seeded chaos (seed {SEED}) over an ingest of "
    f"{'real books in several hundred batches' if real_books() else 'the synthetic books'}: "
    f"{', '.join(FAULTS)}, at random moments",
    order=11,
)
def test_a_seeded_chaos_drill_ends_complete_with_every_chunk_stored_once(
    tmp_path: Path, record_property: RecordProperty
) -> None:
    books = drill_books()
    expected = expected_ids(books)
    rng = random.Random(SEED)
    plan = schedule(rng)
    with fault_cluster(tmp_path, books) as cluster:
        cluster.settings.update(SETTINGS)
        cluster.start_standard_workers()
        # The same books into another collection first, undisturbed: the time to beat and the
        # ids to end with. The pool processes load their model here, so both runs start warm.
        clean_run = run_ingest(cluster, "clean", *books, timeout=CLEAN_TIMEOUT)
        assert clean_run.returncode == 0, clean_run.stderr
        clean = summary(clean_run.stdout)
        clean_ids = ChunkStore.connect(cluster.chroma_url, "clean").all_ids()
        assert sorted(clean_ids) == sorted(expected)
        drill = faults(cluster, rng)
        with ingest_in_background(cluster, list(books)) as ingest:
            ingest.wait_until_stored(3)
            done = run_schedule(plan, drill, ingest)
            ingest.finish(timeout=CHAOS_TIMEOUT)
        # A fault after the end would test nothing: SPAN would be too long for the run.
        assert not [line for line in done if "had ended" in line], (done, ingest.err, ingest.out)
        stored = ingest.assert_complete(expected)
        assert ingest.summary()["failures"] == {}
        assert sorted(stored_ids(cluster)) == sorted(clean_ids)
        batches = snapshot(cluster, ingest.run).batches_done
    chaos = ingest.summary()
    assert not (left := processes_left(cluster)), f"still running after the cluster stopped: {left}"
    finish_row(
        cluster, record_property, clean_run.stdout, clean_run.stderr, ingest.out, ingest.err,
        checked="exit 0, no failure; ledger chunks == stored == expected; stored ids == a clean "
        "run's == expected, none twice; no process of the cluster left once it is stopped",
        observed=f"{len(books)} books, {batches} batches of at most "
        f"{SETTINGS['RAGMILL_BATCH_CHUNKS']} chunks; "
        f"{'; '.join(done)}; {stored}; {chaos['resent']} fetch(es) re-sent; no process left; "
        f"{chaos['seconds']:.0f} s against {clean['seconds']:.0f} s clean "
        f"(+{chaos['seconds'] - clean['seconds']:.0f} s)",
    )
