"""Notices a run whose messages wait in a queue that no worker reads, and says what to start.

The run ledger cannot tell a slow run from one whose batches sit in a queue nobody consumes:
both stand still. Redis's transport keeps no consumer count (a queue is a list that workers
BRPOP), so the workers are asked instead: `celery inspect active_queues` names the queues each
live worker consumes. The client asks only when the run has not moved for QUIET_SECONDS while
messages wait in a queue it needs, or a queue it named still lacks a worker, and then at most
every RECHECK_SECONDS. Each queue with waiting messages and no worker is named once, with the
command that starts a worker for it; a worker that then appears is noticed in one line. The run
goes on waiting either way, since a worker may come (lost work is submission.py's business).

A worker that is alive but stopped (SIGSTOP, a machine swapping hard) answers no inspect either,
so it counts as absent until it answers again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# How long a run stands still, with messages waiting, before the workers are asked.
QUIET_SECONDS = 5.0
# Least time between two questions to the workers (each takes INSPECT_TIMEOUT).
RECHECK_SECONDS = 5.0
# How long the workers have to answer `inspect active_queues`.
INSPECT_TIMEOUT = 2.0


@dataclass
class UnreadQueues:
    """The queues a run needs, which of them were named as unread, and when to ask again.

    `waiting(queue)` counts the messages queued there, `served()` names the queues some live
    worker consumes, `command(queue)` is the line that starts a worker for one; `warn` and
    `notice` print a line for the person.
    """

    needed: tuple[str, ...]
    waiting: Callable[[str], int]
    served: Callable[[], set[str]]
    command: Callable[[str], str]
    warn: Callable[[str], None]
    notice: Callable[[str], None]
    unread: set[str] = field(default_factory=set)
    last: tuple[object, ...] = ()
    moved_at: float = field(default_factory=time.monotonic)
    asked_at: float = float("-inf")

    def first_look(self, served: set[str]) -> None:
        """At the run's start, before anything waits: name each needed queue `served` lacks."""
        for queue in self.needed:
            if queue not in served:
                self._name(queue)

    def watch(self, state: tuple[object, ...], now: float) -> None:
        """Called on every poll with what changes whenever the run moves (submission.progress)."""
        if state != self.last:
            self.last, self.moved_at = state, now
        quiet = now - self.moved_at >= QUIET_SECONDS
        if not (quiet or self.unread) or now - self.asked_at < RECHECK_SECONDS:
            return
        waiting = {queue for queue in self.needed if self.waiting(queue) > 0}
        if not waiting and not self.unread:
            return
        self.asked_at = now
        served = self.served()
        for queue in self.needed:
            if queue in self.unread and queue in served:
                self.unread.discard(queue)
                self.notice(f"a worker reads queue '{queue}' now; the run goes on")
            elif queue in waiting and queue not in served and queue not in self.unread:
                self._name(queue)

    def _name(self, queue: str) -> None:
        self.unread.add(queue)
        self.warn(f"no worker reads queue '{queue}'; start one: {self.command(queue)}")
