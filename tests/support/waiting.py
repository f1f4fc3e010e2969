"""Waiting in tests for something another process does: poll until it holds, or fail naming it."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar

import redis
import requests

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


def wait_for_server(process: subprocess.Popen[bytes], log: Path, url: str, what: str,
                    *, ready: Callable[[requests.Response], bool] = lambda r: True,
                    timeout: float = 120) -> None:
    """Poll `url` until `ready` holds for its answer; fail with the server's log if the process
    ends first, or naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"{what} did not answer in {timeout:.0f} s"
        with contextlib.suppress(requests.ConnectionError):
            if ready(requests.get(url, timeout=2)):
                return
        time.sleep(0.2)
