"""When the ingest client asks the workers which queues they read, and what it says then."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.ingest.unread_queues import QUIET_SECONDS, RECHECK_SECONDS, UnreadQueues


@dataclass
class Cluster:
    """Queue lengths and the queues live workers read, as a run's client would find them."""

    queued: dict[str, int] = field(default_factory=dict)
    read: set[str] = field(default_factory=set)
    asked: int = 0
    lines: list[str] = field(default_factory=list)

    def watcher(self) -> UnreadQueues:
        return UnreadQueues(
            ("io", "embed"),
            waiting=lambda queue: self.queued.get(queue, 0),
            served=self.served,
            command=lambda queue: f"celery -A tasks worker -Q {queue}",
            warn=lambda line: self.lines.append(f"warning: {line}"),
            notice=self.lines.append,
        )

    def served(self) -> set[str]:
        self.asked += 1
        return set(self.read)


def test_a_still_run_with_messages_in_a_queue_no_worker_reads_names_it_once() -> None:
    cluster = Cluster(queued={"embed": 12}, read={"io"})
    unread = cluster.watcher()
    for tick in range(int(4 * QUIET_SECONDS / 0.25)):
        unread.watch((3, 40), tick * 0.25)
    assert cluster.lines == [
        "warning: no worker reads queue 'embed'; start one: celery -A tasks worker -Q embed"
    ]
    # Asked once the run had stood still QUIET_SECONDS, then every RECHECK_SECONDS at most.
    assert 1 < cluster.asked <= 1 + 3 * QUIET_SECONDS / RECHECK_SECONDS


def test_a_moving_run_and_a_still_run_with_nothing_queued_ask_no_worker() -> None:
    cluster = Cluster(queued={}, read=set())
    unread = cluster.watcher()
    for tick in range(200):
        unread.watch((tick // 8,), tick * 0.25)  # moves every 2 s
    for tick in range(200, 400):
        unread.watch(("still",), tick * 0.25)  # still, but nothing waits anywhere
    assert cluster.asked == 0 and cluster.lines == []


def test_a_worker_that_appears_is_noticed_and_one_that_vanishes_again_is_named_again() -> None:
    cluster = Cluster(queued={"embed": 5}, read={"io"})
    unread = cluster.watcher()
    unread.first_look({"io"})
    assert len(cluster.lines) == 1 and "'embed'" in cluster.lines[0]
    now = 0.0
    for _ in range(40):  # the run moves (io works) while embed has no worker: no repeat
        now += 0.25
        unread.watch((now,), now)
    assert len(cluster.lines) == 1
    cluster.read.add("embed")
    for _ in range(40):
        now += 0.25
        unread.watch((now,), now)
    assert cluster.lines[1:] == ["a worker reads queue 'embed' now; the run goes on"]
    cluster.read.discard("embed")
    for _ in range(80):
        now += 0.25
        unread.watch(("still",), now)
    assert len(cluster.lines) == 3 and cluster.lines[2] == cluster.lines[0]
