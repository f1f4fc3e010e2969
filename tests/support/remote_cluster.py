"""A cluster that embeds through the local /v1/embeddings server: a redis-server and a Chroma
server of its own, an io worker and several `embed-remote` worker processes, all real.

The remote-embedding end-to-end tests each start one with their own limit and batch sizes
(`limited_remote_cluster`: the server and the workers under one limit and one key).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline.stack.local import service_env
from pipeline.stack.processes import Service
from pipeline.stack.services import start_worker, wait_for_workers
from tests.conftest import Result, run_cli
from tests.support.embeddings_server import MODEL, EmbeddingsServer, serve_embeddings
from tests.support.servers import chroma_server, redis_server


@dataclass
class RemoteCluster:
    """A running cluster: the endpoint, its stores, the workers' environment and log folder."""

    server: EmbeddingsServer
    redis_url: str
    chroma_url: str
    env: dict[str, str]
    logs: Path

    def ingest(self, collection: str, *ids: str) -> Result:
        return run_cli(
            ["ingest", "--json", "--no-progress", "--collection", collection, *ids], self.env
        )


@contextmanager
def remote_cluster(
    root: Path, mirror_url: str, server: EmbeddingsServer, *, embed_processes: int = 2,
    threads: int = 4, **settings: str,
) -> Iterator[RemoteCluster]:
    """Start the cluster under `root`, its workers reading EMBED_* from `settings` (and the
    server's URL and limit name filled in); stop it when the block ends."""
    # A redis of its own: the session cluster's io worker must not take these books' tasks.
    with chroma_server(root) as chroma_url, redis_server(root / "redis") as redis_url:
        env = service_env(root)
        env.update(
            REDIS_URL=redis_url, CHROMA_URL=chroma_url, GUTENBERG_MIRROR=mirror_url,
            RAGMILL_DATA_DIR=str(root), EMBED_BACKEND="openai", EMBED_BASE_URL=server.url,
            EMBED_MODEL=MODEL, EMBED_TIMEOUT="30", EMBED_LIMIT_NAME=f"e2e-{os.getpid()}",
        )
        env.update(settings)
        roles = [("rio", "io"), *((f"remote{i + 1}", "embed-remote")
                                  for i in range(embed_processes))]
        workers: dict[str, Service] = {
            name: start_worker(role, env, root / "logs", name=name, concurrency=threads,
                               wait=False)
            for name, role in roles
        }
        try:
            wait_for_workers(redis_url, workers)
            yield RemoteCluster(server, redis_url, chroma_url, env, root / "logs")
        finally:
            for worker in workers.values():
                worker.stop(grace=20)


@contextmanager
def limited_remote_cluster(
    root: Path, mirror_url: str, *, rpm: int, tpm: int, window: float, key: str,
    chunks_per_request: int, **server_options: object,
) -> Iterator[RemoteCluster]:
    """The embeddings server (50 ms a request, requiring `key`; `server_options` such as random
    faults) and a cluster whose workers know its limit and key; each embed task and request
    carries `chunks_per_request` chunks."""
    with serve_embeddings(rpm=rpm, tpm=tpm, window=window, latency=0.05, api_key=key,
                          **server_options) as server, remote_cluster(
        root, mirror_url, server, EMBED_API_KEY=key, EMBED_RPM=str(rpm), EMBED_TPM=str(tpm),
        EMBED_WINDOW_SECONDS=str(window), EMBED_MAX_INPUTS=str(chunks_per_request),
        RAGMILL_BATCH_CHUNKS=str(chunks_per_request),
    ) as cluster:
        yield cluster
