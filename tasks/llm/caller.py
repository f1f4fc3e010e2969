"""Admission, call and retries around one chat completion: what every LLM task uses.

    acquire a ticket from the shared limit (waiting in place)
    -> call the endpoint
    -> settle the ticket with the reply's real tokens
    on 429: pause every worker for Retry-After, then go round again
    on 5xx / timeout / connection error: back off (exponential, full jitter) and go round again,
        at most LLM_MAX_RETRIES times
    on a malformed reply or a refused request: raise at once, retrying would not help
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

from tasks.llm.client import ChatClient, Message, Reply, reserve_tokens
from tasks.llm.errors import RateLimited, TransientLLMError
from tasks.llm.ratelimit.redis_backend import RedisLimiter
from tasks.settings import LLMSettings

BACKOFF_BASE = 0.5
BACKOFF_MAX = 30.0
# A 429 is the endpoint's word, not a fault of ours, so it gets its own, larger allowance.
MAX_RATE_LIMITED = 20
# Used when a 429 names no Retry-After.
DEFAULT_PAUSE = 1.0


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds before retry `attempt` (1, 2, ...): full jitter over an exponential cap."""
    cap = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (attempt - 1))
    return (rng or random).uniform(cap / 2, cap)


class LLMCaller:
    """Chat completions that respect the shared limit and survive passing failures.

    Without a limiter (no cluster Redis: one question from one process) calls go straight out.
    """

    def __init__(
        self,
        settings: LLMSettings,
        limiter: RedisLimiter | None,
        client: ChatClient,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.limiter = limiter
        self.client = client
        self._sleep = sleep

    def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        deadline: float | None = None,
    ) -> Reply:
        """One completion; raises the last LLMError when retries run out, AdmissionTimeout when
        the limit would not admit the request before `deadline` (time.monotonic)."""
        max_tokens = max_tokens or self.settings.max_tokens
        reserved = reserve_tokens(messages, max_tokens)
        failures = 0
        limited = 0
        limiter = self.limiter
        while True:
            ticket = limiter.acquire(reserved, deadline) if limiter else None
            try:
                reply = self.client.chat(messages, max_tokens=max_tokens)
            except RateLimited as exc:
                # The request may have counted at the endpoint: keep its reservation.
                wait = exc.wait if exc.wait >= 0 else DEFAULT_PAUSE * (limited + 1)
                if limiter and ticket:
                    limiter.settle(ticket, reserved)
                    limiter.pause(wait)
                else:
                    self._sleep(wait)
                limited += 1
                if limited > MAX_RATE_LIMITED:
                    raise
                continue
            except TransientLLMError:
                if limiter and ticket:
                    limiter.settle(ticket, reserved)
                failures += 1
                if failures > self.settings.max_retries:
                    raise
                self._sleep(backoff(failures))
                continue
            except BaseException:
                if limiter and ticket:
                    limiter.settle(ticket, reserved)
                raise
            if limiter and ticket:
                used = reply.total_tokens
                limiter.settle(ticket, reserved if used is None else used)
            return reply
