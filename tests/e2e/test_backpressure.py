"""Submission never puts more than --books-in-flight books into the queue at once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import RAGMILL
from tests.support.servers import redis_server

pytestmark = pytest.mark.e2e


def test_books_in_flight_bounds_what_is_queued(tmp_path: Path) -> None:
    # No worker consumes this Redis, so whatever the client submits stays in the io queue.
    with redis_server(tmp_path / "redis") as url:
        env = dict(os.environ, REDIS_URL=url, RAGMILL_DATA_DIR=str(tmp_path / "data"))
        ingest = subprocess.Popen(
            [RAGMILL, "ingest", *[str(n) for n in range(1, 41)], "--books-in-flight", "3",
             "--no-progress"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        try:
            client = redis.Redis.from_url(url)
            deadline = time.monotonic() + 30
            while client.llen("io") < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(2)  # several more polling rounds of the client
            queued = client.llen("io")
            ingest.send_signal(signal.SIGINT)
            _, stderr = ingest.communicate(timeout=30)
        finally:
            ingest.kill()
    assert queued == 3
    assert "no worker consumes queue 'io'" in stderr
    assert ingest.returncode == 130
