"""Strangers kept out: services bind 127.0.0.1, Redis passwords work and are never printed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.stack.local import LocalStack, StackPlan
from tests.conftest import run_cli
from tests.faults.cluster import FaultCluster
from tests.faults.report import RecordProperty
from tests.support.mirror import Mirror

pytestmark = pytest.mark.e2e


def listening(port: int) -> set[str]:
    """The local addresses a TCP socket listens on at `port`, from /proc/net/tcp and tcp6."""
    found = set()
    for name, width in (("tcp", 8), ("tcp6", 32)):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, state = fields[1], fields[3]
            host, hex_port = address.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(host)
            if width == 8:
                found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
            else:
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


@pytest.mark.reliability("security", "the local stack's Redis and Chroma servers start")
def test_the_local_stack_listens_on_loopback_only(
    tmp_path: Path, record_property: RecordProperty
) -> None:
    with LocalStack(tmp_path / "data", StackPlan(workers=False)) as info:
        ports = {
            "redis": int(info.redis_url.rsplit(":", 1)[1].split("/")[0]),
            "chroma": int(info.chroma_url.rsplit(":", 1)[1]),
        }
        seen = {name: listening(port) for name, port in ports.items()}
    for name, addresses in seen.items():
        assert addresses == {"127.0.0.1"}, f"{name} listens on {addresses}"
    record_property("checked", "every listening socket of each port (/proc/net/tcp, tcp6)")
    record_property(
        "observed", "; ".join(f"{n} listens on {', '.join(sorted(a))}" for n, a in seen.items())
    )


@pytest.fixture
def password_redis(tmp_path: Path) -> Iterator[FaultCluster]:
    """A redis-server that asks for a password (no workers, no mirror needed)."""
    cluster = FaultCluster(root=tmp_path, mirror=Mirror(url="http://127.0.0.1:9", root=tmp_path))
    try:
        cluster.start_redis()
        yield cluster
    finally:
        cluster.stop()


@pytest.mark.reliability("security", "`REDIS_URL` with a password, right and wrong")
def test_a_password_in_redis_url_works_and_is_masked_when_wrong(
    password_redis: FaultCluster, record_property: RecordProperty
) -> None:
    cluster = password_redis
    good = run_cli(["status", "--json"], cluster.env(), timeout=60)
    assert good.code == 0, good.stderr
    assert good.json() == []
    wrong_url = cluster.redis_url.replace(cluster.password, "wrong-" + cluster.password)
    wrong = run_cli(["status"], cluster.env(REDIS_URL=wrong_url), timeout=60)
    assert wrong.code == 1
    assert cluster.password not in wrong.stderr + wrong.stdout
    lines = wrong.stderr.strip().splitlines()
    assert len(lines) == 1 and "password" in lines[0] and ":***@" in lines[0]
    no_password = cluster.redis_url.replace(f":{cluster.password}@", "")
    refused = run_cli(["status"], cluster.env(REDIS_URL=no_password), timeout=60)
    assert refused.code == 1 and "\n" not in refused.stderr.strip()
    assert "asks for a password" in refused.stderr
    record_property(
        "checked", "the right password works; a wrong one is one line with the password masked; "
        "without one, one line saying it is needed"
    )
    record_property("observed", f"{lines[0]} / {refused.stderr.strip()}")
