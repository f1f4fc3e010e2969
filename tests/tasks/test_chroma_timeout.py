"""A request to a hung Chroma server ends at the client's timeout instead of waiting for ever."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from pipeline.stack import services
from pipeline.stack.local import service_env
from tasks.store import ChunkStore


def test_a_request_to_a_stopped_chroma_times_out_and_the_next_succeeds(tmp_path: Path) -> None:
    server, url = services.start_chroma(tmp_path / "chroma", tmp_path, service_env(tmp_path))
    try:
        store = ChunkStore.connect(url, "hung", timeout=1.5)
        os.kill(server.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(httpx.TimeoutException):
                store.count()
            assert time.monotonic() - started < 10
        finally:
            os.kill(server.pid, signal.SIGCONT)
        assert store.count() == 0
    finally:
        server.stop(grace=5)
