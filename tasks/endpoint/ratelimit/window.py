"""The sliding-window-log limit, as pure functions over a list of entries (no storage, no clock).

Each admitted request leaves one entry: the time from which it counts and the tokens it costs.
An entry stops counting `window` seconds after its time. A new request is admitted only if, with
it, the live entries number at most `requests` and cost at most `tokens` in total.

Why a log and not a token bucket: a bucket of capacity N refilled at N per minute lets 2N
requests through in one minute (a full bucket, then its refill); the log holds exactly N in any
window, and still lets the next request in the moment the oldest one expires, so a backlog keeps
the endpoint at its limit.

Why an entry counts from when its reply arrived: the endpoint sees a request at some moment
between admission and reply. While a request is in flight its entry is dated `hold` seconds
ahead (the longest the call may take), so it counts for certain; when the reply arrives the entry
is re-dated to that moment, which is never earlier than when the endpoint saw the request. Two
requests that both count in one endpoint window therefore both count in ragmill's, whatever the
network delays were, and its tokens become the reply's real `usage`.

`tasks.endpoint.ratelimit.redis_backend` runs the same rules inside Redis, atomically, for every
process on every machine; tests hold the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """At most `requests` requests and `tokens` tokens in any `window` seconds."""

    requests: int
    tokens: int
    window: float


@dataclass(frozen=True)
class Entry:
    """One admitted request: counts from `at` until `at + window`, costing `tokens`."""

    at: float
    tokens: int


@dataclass(frozen=True)
class Ticket:
    """An admission: the entry's id and the tokens reserved for it until it is settled."""

    id: str
    tokens: int


def live(entries: Sequence[Entry], now: float, window: float) -> list[Entry]:
    """The entries that still count at `now`, oldest first."""
    return sorted((e for e in entries if e.at > now - window), key=lambda e: e.at)


def admission_wait(
    entries: Sequence[Entry],
    limits: Limits,
    now: float,
    cost: int,
    paused_until: float = 0.0,
) -> float:
    """Seconds until a request costing `cost` tokens may go; 0.0 means now.

    `entries` must be the live entries, oldest first. Raises ValueError when `cost` alone is
    more than a window allows, since no wait would ever admit it.
    """
    if cost > limits.tokens:
        raise ValueError(f"a request of {cost} tokens exceeds the limit of {limits.tokens}")
    wait = max(0.0, paused_until - now)
    n = len(entries)
    if n >= limits.requests:
        # Once this entry expires, n - limits.requests + 1 have, and one request fits.
        wait = max(wait, entries[n - limits.requests].at + limits.window - now)
    total = sum(e.tokens for e in entries)
    if total + cost > limits.tokens:
        freed = 0
        for e in entries:
            freed += e.tokens
            if total - freed + cost <= limits.tokens:
                wait = max(wait, e.at + limits.window - now)
                break
    return wait


class MemoryWindow:
    """The algorithm with its entries in this process's memory: for tests and single processes."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.entries: dict[str, Entry] = {}
        self.paused_until = 0.0

    def try_admit(self, ticket: Ticket, now: float, hold: float) -> float:
        """Admit `ticket` (dated `now + hold` while in flight) or return the seconds to wait."""
        self._prune(now)
        wait = admission_wait(
            live(list(self.entries.values()), now, self.limits.window),
            self.limits,
            now,
            ticket.tokens,
            self.paused_until,
        )
        if wait <= 0:
            self.entries[ticket.id] = Entry(now + hold, ticket.tokens)
        return wait

    def settle(self, ticket: Ticket, tokens: int, now: float) -> None:
        """The reply arrived at `now` and cost `tokens`: re-date the entry and fix its cost."""
        if ticket.id in self.entries:
            self.entries[ticket.id] = Entry(now, tokens)

    def pause(self, seconds: float, now: float) -> float:
        """Admit nothing for `seconds` (never shortening a pause already set); returns the end."""
        self.paused_until = max(self.paused_until, now + seconds)
        return self.paused_until

    def _prune(self, now: float) -> None:
        cutoff = now - self.limits.window
        self.entries = {k: e for k, e in self.entries.items() if e.at > cutoff}
