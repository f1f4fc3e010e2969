"""One call to an endpoint under the shared limit, with the retries every such call gets.

    acquire a ticket from the shared limit (waiting in place)
    -> send the request
    -> settle the ticket with the reply's real tokens
    on 429: pause every worker for Retry-After, then go round again, at most MAX_RATE_LIMITED
        times; the refused request still counts as a request (a provider counts refusals
        against its request rate) but costs no tokens: the endpoint refused it unread, and
        charging a provider's periodic 429s their tokens would leave its token limit under-used
    on a transient failure (5xx, timeout, connection error): back off (exponential, full jitter)
        and go round again, at most `max_retries` times; the request keeps its reservation, as
        the endpoint may have read and counted it
    on anything else: raise at once, retrying would not help
    with a deadline: a pause or backoff that would end past it raises AdmissionTimeout instead,
        so a task hands its message back in time rather than sleep past its time limit

A 429 is an EndpointRateLimited and a transient failure a TransientEndpointError
(tasks/endpoint/errors.py); each endpoint's own error tree derives its two from them.

Chat completions (tasks/llm/caller.py) and remote embeddings (tasks/embedding/remote.py) both
go through it, so the two keep one behaviour under one limit.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tasks.endpoint.errors import EndpointRateLimited, TransientEndpointError
from tasks.endpoint.ratelimit.redis_backend import AdmissionTimeout, RedisLimiter

BACKOFF_BASE = 0.5
BACKOFF_MAX = 30.0
# A 429 is the endpoint's word, not a fault of ours, so it gets its own, larger allowance.
MAX_RATE_LIMITED = 20
# Used when a 429 names no Retry-After.
DEFAULT_PAUSE = 1.0

R = TypeVar("R")


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds before retry `attempt` (1, 2, ...): full jitter over an exponential cap."""
    cap = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (attempt - 1))
    return (rng or random).uniform(cap / 2, cap)


@dataclass
class Attempts:
    """What a call cost: requests sent, and tokens charged to the limit for failed ones."""

    sent: int = 0
    failed_tokens: int = 0


def call_within_limit(
    send: Callable[[], R],
    *,
    limiter: RedisLimiter | None,
    reserved: int,
    used_tokens: Callable[[R], int | None],
    max_retries: int,
    sleep: Callable[[float], None],
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[R, Attempts]:
    """`send()`'s reply once it succeeds, and what getting it cost.

    `reserved` is the request's honest upper bound of tokens; `used_tokens(reply)` the tokens the
    reply reports (None: keep the reservation). Without a limiter (one question from one process)
    requests go straight out. Raises the last error when its allowance runs out, and the
    limiter's AdmissionTimeout when it would not admit the request before `deadline` (or a
    pause or backoff would end past it).
    """
    attempts = Attempts()
    failures = limited = 0
    while True:
        ticket = limiter.acquire(reserved, deadline) if limiter else None
        attempts.sent += 1
        try:
            reply = send()
        except EndpointRateLimited as exc:
            wait = exc.wait if exc.wait >= 0 else DEFAULT_PAUSE * (limited + 1)
            if limiter and ticket:
                limiter.settle(ticket, 0)
                limiter.pause(wait)
            else:
                _before(deadline, clock, wait, "the endpoint's Retry-After")
                sleep(wait)
            limited += 1
            if limited > MAX_RATE_LIMITED:
                raise
            continue
        except TransientEndpointError:
            if limiter and ticket:
                limiter.settle(ticket, reserved)
            failures += 1
            attempts.failed_tokens += reserved
            if failures > max_retries:
                raise
            pause = backoff(failures)
            _before(deadline, clock, pause, "a retry's backoff")
            sleep(pause)
            continue
        except BaseException:
            if limiter and ticket:
                limiter.settle(ticket, reserved)
            raise
        if limiter and ticket:
            used = used_tokens(reply)
            limiter.settle(ticket, reserved if used is None else used)
        return reply, attempts


def _before(deadline: float | None, clock: Callable[[], float], wait: float, what: str) -> None:
    """Raise AdmissionTimeout if sleeping `wait` seconds would pass `deadline`."""
    if deadline is not None and clock() + wait > deadline:
        raise AdmissionTimeout(f"{what} ({wait:.1f} s) runs past this task's budget", wait)
