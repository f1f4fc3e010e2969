"""A download that hangs (the server accepts and never answers) fails its book; the others land."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.faults.cluster import FaultCluster, expected_ids, run_ingest
from tests.faults.harness import BOOKS, COLLECTION, exact, finish_row, summary
from tests.faults.report import RecordProperty

pytestmark = [pytest.mark.e2e]

READ_TIMEOUT = 2
RETRIES = 2


class Silent:
    """A TCP server on 127.0.0.1 that accepts connections, reads nothing and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self.held: list[socket.socket] = []
        self.stopping = threading.Event()

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            self.held.append(conn)


@contextmanager
def silent_server() -> Iterator[Silent]:
    server = Silent()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        thread.join(timeout=5)
        for conn in server.held:
            conn.close()
        server.sock.close()


@pytest.mark.reliability(
    "fault", "a download that hangs: the server accepts the connection and never answers", order=6
)
def test_a_hanging_download_is_bounded_retried_and_reported(
    private_cluster: FaultCluster, record_property: RecordProperty
) -> None:
    cluster = private_cluster
    cluster.start_standard_workers(
        io_env={"RAGMILL_READ_TIMEOUT": str(READ_TIMEOUT), "RAGMILL_DOWNLOAD_RETRIES": str(RETRIES)}
    )
    with silent_server() as silent:
        url = f"http://127.0.0.1:{silent.port}/hangs.txt"
        done = run_ingest(cluster, COLLECTION, "2001", url, "2002", timeout=150)
        attempts = silent.accepted
    assert done.returncode == 1, done.stderr
    result = summary(done.stdout)
    assert set(result["failures"]) == {url}
    reason = result["failures"][url]
    assert "timed out" in reason and url in reason and "\n" not in reason
    assert attempts == RETRIES + 1
    assert result["books_done"] == 2 and result["books_failed"] == 1
    expected = expected_ids({k: BOOKS[k] for k in ("2001", "2002")})
    stored = exact(cluster, expected)
    failed_lines = [line for line in done.stderr.splitlines() if "failed" in line and url in line]
    assert len(failed_lines) == 1
    finish_row(
        cluster, record_property, done.stdout, done.stderr,
        checked=f"read timeout {READ_TIMEOUT} s, {RETRIES} retries: exit 1; the URL tried "
        f"{RETRIES + 1} times, then one failure line naming it; the other books' ids stored",
        observed=f"{attempts} connections; failure: \"{reason}\"; {stored}; "
        f"{result['seconds']} s in all",
    )
