"""A run that truly cannot finish fails with one line per stuck source instead of hanging.

No worker runs, and every message the run sends is taken from Redis as soon as it lands (lost,
as a restart can lose one): the client re-sends RESEND_ROUNDS times, a stall period apart, then
fails the source, reporting the re-sends. A real redis-server and the real Submission; no worker,
so nothing can ever be stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import redis

from corpus.sources import Source
from pipeline.ingest.submission import RESEND_ROUNDS, Plan, Submission
from pipeline.stack.broker import client_app
from tasks.celery_config import stall_seconds
from tasks.settings import Settings
from tests.support.servers import redis_server


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[str]:
    with redis_server(tmp_path / "redis") as url:
        yield url


def swallow(client: redis.Redis, stop: threading.Event, taken: list[bytes]) -> None:
    """Take every fetch message off the io queue as it arrives: a broker that loses them."""
    while not stop.is_set():
        item = client.rpop("io")
        if item:
            taken.append(cast(bytes, item))
        else:
            time.sleep(0.05)


def test_a_run_whose_work_keeps_getting_lost_fails_in_one_line_after_bounded_resends(
    own_redis: str,
) -> None:
    settings = Settings.from_env({"REDIS_URL": own_redis, "RAGMILL_VISIBILITY_TIMEOUT": "6"})
    client = redis.Redis.from_url(own_redis)
    plan = Plan(sources=[Source("gutenberg", "1001", "1001")], errors=[])
    submission = Submission(client_app(own_redis), client, settings, plan)
    stop, taken = threading.Event(), list[bytes]()
    thief = threading.Thread(target=swallow, args=(client, stop, taken), daemon=True)
    thief.start()
    started = time.monotonic()
    try:
        report = submission.run()
    finally:
        stop.set()
        thief.join(timeout=5)
    seconds = time.monotonic() - started
    assert report.resent == RESEND_ROUNDS
    assert len(taken) == 1 + RESEND_ROUNDS
    assert list(report.failures) == ["1001"]
    reason = report.failures["1001"]
    assert "\n" not in reason and reason.startswith("1001: no progress for 2 s after 3 re-sends")
    assert report.snapshot.complete and not report.ok
    assert report.as_dict()["resent"] == RESEND_ROUNDS
    # Four stall periods and the broker checks between them, not forever.
    assert seconds < (RESEND_ROUNDS + 1) * (stall_seconds(settings) + 5)
