"""The Lua limit in a real redis-server: same answers as window.py, and atomic across clients."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.endpoint.errors import RequestTooLarge
from tasks.endpoint.ratelimit.redis_backend import AdmissionTimeout, RedisLimiter
from tasks.endpoint.ratelimit.window import Limits, MemoryWindow, Ticket


def limiter(client: redis.Redis, limits: Limits, hold: float = 2.0) -> RedisLimiter:
    return RedisLimiter(client, "test", limits, hold=hold)


@settings(max_examples=25, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.floats(0, 4), st.integers(1, 80), st.booleans(), st.floats(0, 1)),
        min_size=1,
        max_size=30,
    )
)
def test_the_script_decides_exactly_like_the_pure_algorithm(
    own_redis_url: str, steps: list[tuple[float, int, bool, float]]
) -> None:
    client = redis.Redis.from_url(own_redis_url)
    limits = Limits(requests=4, tokens=200, window=5.0)
    lua = limiter(client, limits)
    lua.reset()
    pure = MemoryWindow(limits)
    now = 1_000.0
    for gap, cost, settle, latency in steps:
        now += gap
        ticket, wait = lua.try_admit(cost, now=now)
        expected = pure.try_admit(Ticket(ticket.id if ticket else "x", cost), now, hold=2.0)
        assert (ticket is not None) == (expected <= 0)
        assert wait == pytest.approx(max(expected, 0.0), abs=1e-5)
        if ticket is not None and settle:
            used = max(1, cost // 2)
            assert lua.settle(ticket, used, now=now + latency)
            pure.settle(ticket, used, now + latency)
    client.close()


def test_requests_larger_than_the_token_limit_are_a_clear_error(
    redis_client: redis.Redis,
) -> None:
    with pytest.raises(RequestTooLarge, match="LLM_TPM"):
        limiter(redis_client, Limits(10, 100, 60.0)).try_admit(101)


def test_many_threads_with_their_own_connections_never_overrun_the_limit(
    own_redis_url: str, redis_client: redis.Redis
) -> None:
    limits = Limits(requests=25, tokens=10_000, window=60.0)
    admitted: list[int] = []

    def grab() -> None:
        own = limiter(redis.Redis.from_url(own_redis_url), limits)
        for _ in range(10):
            ticket, _wait = own.try_admit(10)
            if ticket is not None:
                admitted.append(1)

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 25
    assert len(limiter(redis_client, limits).entries()) == 25


def test_a_pause_set_by_one_limiter_holds_another(
    own_redis_url: str, redis_client: redis.Redis
) -> None:
    limits = Limits(requests=100, tokens=10_000, window=60.0)
    one = limiter(redis_client, limits)
    other = limiter(redis.Redis.from_url(own_redis_url), limits)
    one.pause(1.0)
    ticket, wait = other.try_admit(10)
    assert ticket is None and 0.5 < wait <= 1.0
    # A shorter pause never cuts a longer one short.
    one.pause(0.1)
    assert other.try_admit(10)[1] > 0.5
    started = time.monotonic()
    other.acquire(10)
    assert time.monotonic() - started >= 0.5


def test_acquire_gives_up_at_the_deadline_instead_of_waiting_past_it(
    redis_client: redis.Redis,
) -> None:
    lim = limiter(redis_client, Limits(requests=1, tokens=10_000, window=60.0))
    lim.acquire(10)
    with pytest.raises(AdmissionTimeout) as caught:
        lim.acquire(10, deadline=time.monotonic() + 1.0)
    assert caught.value.wait > 1.0


def test_the_learned_tokens_per_byte_only_rise_and_every_limiter_sees_them(
    own_redis_url: str, redis_client: redis.Redis
) -> None:
    limits = Limits(requests=100, tokens=10_000, window=60.0)
    one = limiter(redis_client, limits)
    other = limiter(redis.Redis.from_url(own_redis_url), limits)
    assert other.per_byte() is None
    for seen in (0.21, 0.25, 0.22):
        one.learn_per_byte(seen)
    assert other.per_byte() == 0.25
    other.reset()
    assert one.per_byte() is None
