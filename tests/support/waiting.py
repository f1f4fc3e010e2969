"""Waiting in tests for something another process does: poll until it holds, or fail naming it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

import redis

T = TypeVar("T")

# A service being polled may refuse connections while it starts, stops or restarts; that is a
# "not yet", not a failure of the test.
NOT_YET = (redis.RedisError, OSError)


def wait_for(
    check: Callable[[], T | Literal[False] | None], timeout: float, what: str, *, step: float = 0.1
) -> T:
    """Poll `check` until it returns something true and return that; fail the test naming `what`.

    A connection error raised by `check` counts as not yet.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except NOT_YET:
            value = None
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
