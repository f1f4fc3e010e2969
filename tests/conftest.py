"""Session-wide real services: one redis-server, one Chroma server, one io and one embed worker.

They start once, on demand, for the tests that ask for `cluster`; every test then works in its
own Chroma collection, so tests do not see each other's chunks.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.stack.local import service_env
from tests.support.cli import RAGMILL
from tests.support.mirror import Mirror, publish_synthetic_books, serve_mirror
from tests.support.servers import chroma_server, cluster_env, redis_server, start_worker
from tests.support.shared import ONLY_READERS_VARIABLE, reads_shared

# Fault, bad-input and security tests write their tables for docs/reliability.md.
pytest_plugins = ["tests.faults.report"]

# Tests press Ctrl-C on processes they start. A suite started in the background by a
# non-interactive shell inherits SIGINT ignored and would pass that on to them, which a terminal's
# Ctrl-C never meets; restore the default so the children can be interrupted.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

_collections = itertools.count()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In the bare-clone check's child run, only the tests that read the real books run: the
    rest ran in the main session already, and the same without the books."""
    if not os.environ.get(ONLY_READERS_VARIABLE):
        return
    kept = [item for item in items if reads_shared(item)]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


@dataclass
class Cluster:
    """Where the session's services listen, and the environment a client needs to use them."""

    redis_url: str
    chroma_url: str
    mirror: Mirror
    data_dir: Path
    books: dict[str, bytes]

    def env(self, **extra: str) -> dict[str, str]:
        base = {**os.environ, "RAGMILL_DATA_DIR": str(self.data_dir)}
        return cluster_env(base, self.redis_url, self.chroma_url, self.mirror.url, **extra)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


def run_cli(
    args: list[str],
    env: dict[str, str],
    *,
    timeout: float = 240,
    program: str = RAGMILL,
    cwd: Path | None = None,
) -> Result:
    """Run the installed console script, as a user would."""
    done = subprocess.run(
        [program, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mirror, dict[str, bytes]]]:
    with serve_mirror(tmp_path_factory.mktemp("mirror")) as m:
        yield m, publish_synthetic_books(m)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server for the session; tests keep apart by their own keys (run ids)."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    mirror: tuple[Mirror, dict[str, bytes]],
    redis_url: str,
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    with chroma_server(root) as chroma_url:
        env = service_env(root)
        env.update(REDIS_URL=redis_url, CHROMA_URL=chroma_url)
        io = start_worker("io", "io", env, root / "logs", concurrency=4)
        embed = start_worker("embed", "embed", env, root / "logs", concurrency=2)
        try:
            yield Cluster(redis_url, chroma_url, mirror[0], root, mirror[1])
        finally:
            for worker in (io, embed):
                worker.stop(grace=20)


@pytest.fixture
def collection(request: pytest.FixtureRequest) -> str:
    """A fresh Chroma collection name for one test."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", request.node.name[:40]).strip("_")
    return f"t{next(_collections)}_{name}"
