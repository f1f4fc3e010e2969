"""The collection record end to end: the ingest client, `ragmill query` and a real embed worker
refuse a collection whose vectors were made otherwise, in one line."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tasks.collection_record import expected_record, read_record, write_record
from tasks.settings import Settings
from tasks.store import ChunkStore
from tests.conftest import Cluster, run_cli

pytestmark = pytest.mark.e2e


def ingest(cluster: Cluster, collection: str, **env: str) -> tuple[int, str]:
    book = sorted(cluster.books)[0]
    done = run_cli(["ingest", book, "--collection", collection, "--json", "--no-progress"],
                   cluster.env(**env))
    return done.code, done.stderr + done.stdout


def test_client_and_query_refuse_another_backend_and_chunking(
    cluster: Cluster, collection: str
) -> None:
    code, output = ingest(cluster, collection)
    assert code == 0, output
    stored = read_record(ChunkStore.connect(cluster.chroma_url, collection).client
                         .get_collection(collection))
    assert stored is not None and stored.backend == "onnx-int8" and stored.chunk_tokens == 200

    code, output = ingest(cluster, collection, EMBED_BACKEND="onnx")
    assert code == 2
    assert output.strip().count("\n") == 0
    assert f"collection '{collection}'" in output and "set EMBED_BACKEND=onnx-int8" in output

    query = run_cli(["query", "a storm", "--collection", collection],
                    cluster.env(EMBED_BACKEND="onnx"))
    assert query.code == 2 and "onnx fp32" in query.stderr

    code, output = ingest(cluster, collection, RAGMILL_CHUNK_TOKENS="150")
    assert code == 2 and "RAGMILL_CHUNK_TOKENS=200" in output
    query = run_cli(["query", "a storm", "--collection", collection],
                    cluster.env(RAGMILL_CHUNK_TOKENS="150"))
    assert query.code == 0, query.stderr


def test_an_embed_worker_refuses_a_collection_of_another_backend(
    cluster: Cluster, collection: str
) -> None:
    store = ChunkStore.connect(cluster.chroma_url, collection)
    fp32 = replace(expected_record(Settings.from_env({})), backend="onnx", quantisation="fp32")
    write_record(store.client.get_collection(collection), fp32)
    # Without CHROMA_URL the client cannot check; the worker (onnx-int8) must refuse by itself.
    env = cluster.env()
    del env["CHROMA_URL"]
    done = run_cli(["ingest", sorted(cluster.books)[0], "--collection", collection, "--json",
                    "--no-progress"], env)
    assert done.code == 1
    assert "RecordMismatch" in done.stdout + done.stderr
    assert "set EMBED_BACKEND=onnx (on every worker" in done.stdout + done.stderr
    assert store.count() == 0
