"""The sliding-window algorithm alone: no Redis, no clock, so its promises can be checked fast."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.endpoint.ratelimit.window import Entry, Limits, MemoryWindow, Ticket, admission_wait


def test_admits_up_to_the_request_limit_then_says_when_the_oldest_expires() -> None:
    limits = Limits(requests=3, tokens=1000, window=10.0)
    entries = [Entry(1.0, 10), Entry(2.0, 10), Entry(3.0, 10)]
    assert admission_wait(entries[:2], limits, now=4.0, cost=10) == 0.0
    assert admission_wait(entries, limits, now=4.0, cost=10) == pytest.approx(7.0)


def test_token_limit_waits_until_enough_tokens_have_expired() -> None:
    limits = Limits(requests=100, tokens=100, window=10.0)
    entries = [Entry(1.0, 40), Entry(2.0, 40), Entry(3.0, 10)]
    # 90 live: 50 more fit once the first 40 expire (at 11), 51 only once the next do (at 12).
    assert admission_wait(entries, limits, now=5.0, cost=50) == pytest.approx(6.0)
    assert admission_wait(entries, limits, now=5.0, cost=51) == pytest.approx(7.0)
    assert admission_wait(entries, limits, now=5.0, cost=10) == 0.0


def test_a_pause_holds_everyone_until_it_ends() -> None:
    limits = Limits(requests=10, tokens=1000, window=10.0)
    assert admission_wait([], limits, now=5.0, cost=1, paused_until=8.5) == pytest.approx(3.5)


def test_a_request_larger_than_the_window_allows_is_refused() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        admission_wait([], Limits(10, 100, 60.0), now=0.0, cost=101)


def test_an_in_flight_request_counts_until_it_settles_then_from_its_reply() -> None:
    window = MemoryWindow(Limits(requests=1, tokens=1000, window=10.0))
    first = Ticket("a", 10)
    assert window.try_admit(first, now=0.0, hold=30.0) == 0.0
    # In flight, dated 30 s ahead: nobody else gets in, however long we wait short of that.
    assert window.try_admit(Ticket("b", 10), now=20.0, hold=30.0) > 0
    window.settle(first, 7, now=21.0)
    assert window.try_admit(Ticket("b", 10), now=30.5, hold=30.0) == pytest.approx(0.5)
    assert window.try_admit(Ticket("b", 10), now=31.0, hold=30.0) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    requests=st.integers(1, 6),
    tokens=st.integers(50, 300),
    arrivals=st.lists(
        st.tuples(st.floats(0, 3), st.integers(1, 50), st.floats(0, 2)), min_size=1, max_size=40
    ),
)
def test_no_window_ever_holds_more_than_the_limits(
    requests: int, tokens: int, arrivals: list[tuple[float, int, float]]
) -> None:
    """Callers that wait as told, with calls of any length, never overrun any window."""
    limits = Limits(requests, tokens, window=5.0)
    window = MemoryWindow(limits)
    now = 0.0
    seen: list[tuple[float, int]] = []  # (when the endpoint saw it, tokens)
    for i, (gap, cost, latency) in enumerate(arrivals):
        now += gap
        ticket = Ticket(str(i), cost)
        while (wait := window.try_admit(ticket, now, hold=2.0)) > 0:
            now += wait
        # The endpoint sees the request somewhere inside the call; worst case for us: at once.
        seen.append((now, cost))
        now += latency
        window.settle(ticket, cost, now)
    for start, _ in seen:
        inside = [t for at, t in seen if start <= at < start + limits.window]
        assert len(inside) <= requests
        assert sum(inside) <= tokens
