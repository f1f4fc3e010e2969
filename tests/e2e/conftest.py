"""Servers of a module's own, for end-to-end tests whose workers must not join the session's.

The session `cluster` of tests/conftest.py is shared; a test that starts workers with settings
of its own (other batch sizes, other node names) starts them against these instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.stack.local import service_env
from tests.conftest import Result, run_cli
from tests.support.mirror import Mirror
from tests.support.servers import chroma_server, cluster_env, redis_server


@dataclass
class OwnServers:
    """A redis-server and a Chroma server of one module's own, and the session's mirror."""

    root: Path
    redis_url: str
    chroma_url: str
    mirror: Mirror
    books: dict[str, bytes]

    @property
    def chroma_dir(self) -> Path:
        """Where the Chroma server keeps its files."""
        return self.root / "server" / "chroma"

    def client_env(self) -> dict[str, str]:
        """The environment of a `ragmill` command using these servers (data in root/client)."""
        base = service_env(self.root / "client")
        return cluster_env(base, self.redis_url, self.chroma_url, self.mirror.url)

    def ingest(self, collection: str, *books: str) -> Result:
        """`ragmill ingest --json` of `books` into `collection`, as a client of these servers."""
        argv = ["ingest", "--json", "--no-progress", "--collection", collection, *books]
        return run_cli(argv, self.client_env())


@pytest.fixture(scope="module")
def own_servers(
    tmp_path_factory: pytest.TempPathFactory, mirror: tuple[Mirror, dict[str, bytes]]
) -> Iterator[OwnServers]:
    root = tmp_path_factory.mktemp("servers")
    with redis_server(root / "redis") as redis_url, chroma_server(root / "server") as chroma_url:
        yield OwnServers(root, redis_url, chroma_url, *mirror)
