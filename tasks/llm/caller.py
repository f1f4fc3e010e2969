"""Admission, call and retries around one chat completion: what every LLM task uses.

The loop (shared limit, 429 pauses, backoff on 5xx, timeouts and connection errors, at most
LLM_MAX_RETRIES times) is tasks/endpoint/ratelimit/retrying.py's; a malformed reply or a refused
request raises at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from tasks.endpoint.ratelimit.redis_backend import RedisLimiter
from tasks.endpoint.ratelimit.retrying import call_within_limit
from tasks.llm.client import ChatClient, Message, Reply, reserve_tokens
from tasks.settings import LLMSettings


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
        reply, _ = call_within_limit(
            lambda: self.client.chat(messages, max_tokens=max_tokens),
            limiter=self.limiter,
            reserved=reserve_tokens(messages, max_tokens),
            used_tokens=lambda reply: reply.total_tokens,
            max_retries=self.settings.max_retries,
            sleep=self._sleep,
            deadline=deadline,
        )
        return reply
