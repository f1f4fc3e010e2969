"""The embedded default: with REDIS_URL unset, ragmill runs its own stack and leaves no process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from pipeline.stack.processes import free_port
from tests.conftest import RAGMILL, run_cli
from tests.support.mirror import Mirror
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


def local_env(mirror: Mirror) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CHROMA_URL")}
    env["GUTENBERG_MIRROR"] = mirror.url
    return env


def processes_of(data_dir: Path) -> list[int]:
    """Pids of live processes started for `data_dir` (every service gets RAGMILL_DATA_DIR)."""
    marker = f"RAGMILL_DATA_DIR={data_dir}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and marker in environ.split(b"\0"):
            pids.append(int(proc.name))
    return pids


def test_ingest_and_query_on_a_private_stack_leave_no_process(
    tmp_path: Path, mirror: tuple[Mirror, dict[str, bytes]]
) -> None:
    data = tmp_path / "data"
    env = local_env(mirror[0])
    result = run_cli(
        ["ingest", "1002", "--data-dir", str(data), "--workers", "1", "--json", "--no-progress"],
        env,
    )
    assert result.code == 0, result.stderr
    assert result.json()["books_done"] == 1
    assert processes_of(data) == []
    assert not (data / "stack.json").exists()

    found = run_cli(["query", "damask roses in the walled garden", "--data-dir", str(data),
                     "--json", "-k", "2"], env)
    assert found.code == 0, found.stderr
    assert found.json()[0]["book_id"] == "1002"
    assert processes_of(data) == []


def test_ctrl_c_stops_the_ingest_and_its_whole_stack(
    tmp_path: Path, mirror: tuple[Mirror, dict[str, bytes]]
) -> None:
    data = tmp_path / "data"
    ingest = subprocess.Popen(
        [RAGMILL, "ingest", "1001", "1002", "1003", "--data-dir", str(data), "--no-progress"],
        env=local_env(mirror[0]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(lambda: (data / "stack.json").exists(), 120, "the stack to start")
        assert processes_of(data)
        ingest.send_signal(signal.SIGINT)
        _, stderr = ingest.communicate(timeout=90)
    finally:
        ingest.kill()
    assert ingest.returncode == 130, stderr
    assert "Run the same command again" in stderr
    wait_for(lambda: processes_of(data) == [], 30, "every service to exit")


def test_a_killed_ingest_takes_its_services_with_it(
    tmp_path: Path, mirror: tuple[Mirror, dict[str, bytes]]
) -> None:
    data = tmp_path / "data"
    ingest = subprocess.Popen(
        [RAGMILL, "ingest", "1001", "--data-dir", str(data), "--no-progress"],
        env=local_env(mirror[0]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: (data / "stack.json").exists(), 120, "the stack to start")
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(timeout=10)
    finally:
        ingest.kill()
    wait_for(lambda: processes_of(data) == [], 60, "every service to exit")


def test_up_keeps_a_stack_that_ingest_query_and_status_use(
    tmp_path: Path, mirror: tuple[Mirror, dict[str, bytes]]
) -> None:
    data = tmp_path / "data"
    env = local_env(mirror[0])
    port = free_port()
    up = subprocess.Popen(
        [RAGMILL, "up", "--data-dir", str(data), "--flower-port", str(port), "--workers", "1",
         "--serve-port", str(free_port())],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(lambda: (data / "stack.json").exists(), 120, "ragmill up")
        state = json.loads((data / "stack.json").read_text())
        assert state["mode"] == "up"
        assert requests.get(f"http://127.0.0.1:{port}/healthcheck", timeout=5).ok

        result = run_cli(["ingest", "1003", "--data-dir", str(data), "--json", "--no-progress"],
                         env)
        assert result.code == 0, result.stderr
        # The ingest used the running stack instead of starting its own.
        assert json.loads((data / "stack.json").read_text())["pids"] == state["pids"]

        status = run_cli(["status", "--data-dir", str(data), "--json"], env)
        assert status.code == 0, status.stderr
        latest = status.json()[0]
        assert latest["run"] == result.json()["run"]
        assert latest["books_done"] == 1 and latest["chunks_left"] == 0

        found = run_cli(["query", "the steam locomotive and the signal box", "--data-dir",
                         str(data), "--json"], env)
        assert found.json()[0]["book_id"] == "1003"

        up.send_signal(signal.SIGINT)
        up.wait(timeout=60)
    finally:
        up.kill()
    assert up.returncode == 0, up.stderr.read() if up.stderr else ""
    wait_for(lambda: processes_of(data) == [], 30, "every service to exit")
