"""The client's first connection to Redis: a broker restarting is waited for a few seconds, one
that is not there fails in one line soon after."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from pipeline.stack import broker, services
from pipeline.stack.broker import BrokerUnavailable, connect
from pipeline.stack.processes import free_port


def test_nothing_listening_fails_in_one_line_within_the_grace() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="cannot reach Redis at") as failed:
        connect(url)
    assert time.monotonic() - started < broker.REFUSED_GRACE + 3
    assert "\n" not in str(failed.value)


def test_a_redis_that_starts_a_moment_later_is_waited_for(tmp_path: Path) -> None:
    port = free_port()
    answers: list[object] = []

    def connect_now() -> None:
        try:
            answers.append(connect(f"redis://127.0.0.1:{port}/0").ping())
        except BrokerUnavailable as exc:
            answers.append(exc)

    # The client asks from a thread; Redis starts in the test's own thread, since a service
    # started by a thread ends with that thread (processes.spawn's parent-death signal).
    asking = threading.Thread(target=connect_now)
    asking.start()
    time.sleep(1.0)
    server = services.start_redis(tmp_path / "redis", tmp_path, port=port, persist=False)[0]
    try:
        asking.join(timeout=broker.REFUSED_GRACE + 5)
        assert answers == [True]
    finally:
        server.stop(grace=5)
