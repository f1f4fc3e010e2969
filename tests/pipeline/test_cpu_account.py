"""The bench's CPU account, on real processes that burn a known amount of CPU."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.bench.cpu_account import CpuAccount, child_pids, machine_cpu, process_cpu

# A parent (standing in for a worker) whose child says it is ready, waits for a file, burns 0.5 s
# of CPU, then sleeps or exits.
PARENT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", *sys.argv[1:]])
child.wait()
"""
CHILD = """
import os, sys, time
go, then, ready = sys.argv[1], sys.argv[2], sys.argv[3]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
start = time.process_time()
while time.process_time() - start < 0.5:
    pass
if then == "sleep":
    time.sleep(30)
"""


def _start(tmp_path: Path, then: str) -> tuple[subprocess.Popen[bytes], Path]:
    go, ready = tmp_path / "go", tmp_path / "ready"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD, str(go), then, str(ready)])
    # The child's own start-up is not part of what is measured.
    deadline = time.monotonic() + 20
    while not ready.exists():
        assert time.monotonic() < deadline, "the child process did not start"
        time.sleep(0.02)
    return parent, go


def _stop(parent: subprocess.Popen[bytes]) -> None:
    """End the child first: killing only the parent would leave it sleeping as an orphan."""
    for child in child_pids(parent.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    parent.kill()
    parent.wait()


def _measure(account: CpuAccount, go: Path, seconds: float) -> None:
    go.touch()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        account.sample()
        time.sleep(0.05)


@pytest.mark.parametrize("then", ["sleep", "exit"])
def test_children_count_from_the_start_and_keep_their_cpu_after_exit(
    tmp_path: Path, then: str
) -> None:
    parent, go = _start(tmp_path, then)
    try:
        account = CpuAccount({"worker-embed": parent.pid})
        _measure(account, go, 1.5)
        use = account.finish()
    finally:
        _stop(parent)
    # The child burned 0.5 s after the account began (its start-up before it is not counted),
    # and a child that exited mid-run keeps what it used up to its last reading.
    assert 0.4 <= use.seconds["embed"] <= 0.8, use
    assert use.seconds["embed main"] < 0.2, use
    assert use.seconds["chroma"] == 0.0
    assert use.seconds["other"] >= 0.0 and use.idle >= 0.0
    ms = use.per_chunk_ms(100)
    assert ms["embed"] == pytest.approx(1000 * use.seconds["embed"] / 100, abs=0.001)
    assert ms["total"] == pytest.approx(sum(ms[k] for k in use.seconds), abs=0.01)


def test_process_and_machine_readings() -> None:
    assert process_cpu(2**22 + 12345) is None  # no such process
    own = process_cpu(os.getpid())
    assert own is not None and own > 0
    busy, idle = machine_cpu()
    assert busy > 0 and idle >= 0
