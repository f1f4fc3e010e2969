"""`ragmill up` starts the search service beside Flower, on loopback, and stops it with the rest."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from pipeline.stack.processes import free_port
from tests.conftest import RAGMILL

pytestmark = pytest.mark.e2e


def test_up_serves_search_until_it_stops(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "CHROMA_URL", "RAGMILL_SERVE_TOKEN")}
    data_dir = tmp_path / "data"
    serve_port = free_port()
    with open(tmp_path / "up.log", "wb") as log:
        process = subprocess.Popen(
            [RAGMILL, "up", "--workers", "1", "--flower-port", str(free_port()),
             "--serve-port", str(serve_port), "--data-dir", str(data_dir)],
            env={**env, "HF_HUB_OFFLINE": "1"}, cwd=tmp_path, stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while not (data_dir / "stack.json").is_file():
            assert process.poll() is None, (tmp_path / "up.log").read_text()
            assert time.monotonic() < deadline, "ragmill up did not start in 180 s"
            time.sleep(0.3)
        stack = json.loads((data_dir / "stack.json").read_text())
        assert stack["serve_url"] == f"http://127.0.0.1:{serve_port}"
        assert requests.get(f"{stack['serve_url']}/health", timeout=10).status_code == 200
        # Nothing ingested yet: a clear 404 until an ingest creates the collection.
        empty = requests.get(f"{stack['serve_url']}/api/search", params={"q": "x"}, timeout=30)
        assert empty.status_code == 404 and "does not exist" in empty.json()["error"]
    finally:
        process.terminate()
        process.wait(timeout=90)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{serve_port}/health", timeout=5)
