"""Per-process LLM engines: settings and the shared limiter once per process, a client per thread.

LLM workers run a threads pool, and a requests.Session must not be shared between threads.
"""

from __future__ import annotations

import threading
from functools import cache

from tasks import resources
from tasks.endpoint.ratelimit.redis_backend import RedisLimiter
from tasks.endpoint.ratelimit.window import Limits
from tasks.llm.caller import LLMCaller
from tasks.llm.client import ChatClient
from tasks.settings import LLMSettings

# An in-flight request counts this much longer than its read timeout, for connecting and for
# the time between the reply and its settlement.
HOLD_MARGIN = 2.0

_local = threading.local()


def llm_settings() -> LLMSettings:
    return resources.settings().llm


def make_limiter(settings: LLMSettings, client: object | None = None) -> RedisLimiter:
    """The limiter for `settings`' endpoint over `client` (default: this process's Redis)."""
    return RedisLimiter(
        client or resources.redis_client(),  # type: ignore[arg-type]
        settings.limit_key,
        Limits(settings.rpm, settings.tpm, settings.window_seconds),
        hold=settings.timeout + settings.connect_timeout + HOLD_MARGIN,
    )


@cache
def limiter() -> RedisLimiter:
    return make_limiter(llm_settings())


def caller() -> LLMCaller:
    """This thread's caller (its own HTTP session, the process's limiter)."""
    found: LLMCaller | None = getattr(_local, "caller", None)
    if found is None:
        settings = llm_settings()
        found = LLMCaller(settings, limiter(), ChatClient(settings))
        _local.caller = found
    return found


def reset() -> None:
    limiter.cache_clear()
    _local.__dict__.clear()
