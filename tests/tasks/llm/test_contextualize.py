"""`ingest --contextualize` and `ask` end to end: real redis-server, Celery io, embed and llm
workers, a real Chroma server, and the local OpenAI-compatible test server as the LLM."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from pipeline.stack.broker import client_app
from tasks.store import ChunkStore
from tests.bench.llm_limit import start_llm_workers
from tests.conftest import Cluster, run_cli
from tests.support.chat_server import LLMServer, serve_llm

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def llm(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LLMServer]:
    """The test LLM and one llm worker (4 threads) on the session cluster's Redis."""
    with serve_llm(latency=0.01) as server:
        app = client_app(cluster.redis_url)
        env = cluster.env(**llm_env(server))
        logs = tmp_path_factory.mktemp("llm-logs")
        workers = start_llm_workers(1, 4, env, logs, tag="ctx")
        try:
            yield server
        finally:
            for w in workers:
                w.stop(grace=10)
            app.close()


@pytest.fixture(scope="module")
def books(cluster: Cluster, llm: LLMServer) -> tuple[str, int, Any]:
    """Books 1001 and 1002 ingested once with --contextualize: (collection, LLM calls, result)."""
    collection = "llm_contextualized"
    before = len(llm.log)
    result = ingest(cluster, llm, collection, "1001", "1002")
    return collection, len(llm.log) - before, result


def llm_env(server: LLMServer) -> dict[str, str]:
    return {"LLM_BASE_URL": server.url, "LLM_MODEL": "test-model", "LLM_RPM": "5000",
            "LLM_TPM": "5000000"}


def ingest(cluster: Cluster, server: LLMServer, collection: str, *args: str) -> Any:
    result = run_cli(
        ["ingest", "--contextualize", "--json", "--no-progress", "--collection", collection,
         *args],
        cluster.env(**llm_env(server)),
    )
    assert result.code in (0, 1), result.stderr
    return result


def stored(cluster: Cluster, collection: str) -> dict[str, Any]:
    store = ChunkStore.connect(cluster.chroma_url, collection)
    return store.collection.get(include=["metadatas", "documents", "embeddings"])


def test_contextualize_stores_a_context_for_every_chunk_and_embeds_it_with_the_text(
    cluster: Cluster, llm: LLMServer, books: tuple[str, int, Any]
) -> None:
    collection, calls, result = books
    assert result.code == 0, result.stderr
    summary = result.json()
    chunks = summary["chunks"]
    assert summary["chunks_contextualized"] == summary["contexts_wanted"] == chunks > 0
    assert summary["contexts_failed"] == 0
    assert calls == chunks
    assert f"{chunks} chunks contextualized" in result.stderr

    got = stored(cluster, collection)
    assert len(got["ids"]) == chunks
    contexts = [m["context"] for m in got["metadatas"]]
    assert all(c.startswith("Context:") for c in contexts)
    # The prompt named the chunk's book: the model saw the title.
    titles = {m["book_id"]: m["title"] for m in got["metadatas"]}
    assert any(titles["1002"] in s.content for s in llm.log)
    # The vector is that of context + text, not of the text alone.
    from tasks.embedding import Embedder
    from tasks.settings import Settings

    # The workers' embedder: the default backend and variant.
    settings = Settings.from_env()
    embedder = Embedder(settings.model, backend=settings.embed_backend,
                        variant=settings.embed_variant or None)
    i = 0
    text, context, vector = got["documents"][i], contexts[i], np.asarray(got["embeddings"][i])
    with_context, alone = embedder.encode([f"{context}\n\n{text}", text])
    assert float(vector @ with_context) > 0.999
    assert float(vector @ alone) < 0.999

    before = len(llm.log)
    again = ingest(cluster, llm, collection, "1001", "1002")
    assert again.code == 0, again.stderr
    assert again.json()["chunks_new"] == 0
    assert again.json()["contexts_wanted"] == 0
    assert len(llm.log) == before  # nothing sent to the LLM again


def test_chunks_whose_context_fails_are_embedded_without_one_and_counted(
    cluster: Cluster, llm: LLMServer, collection: str
) -> None:
    llm.fail_next(1000, "bad-json")
    try:
        result = ingest(cluster, llm, collection, "1003")
    finally:
        llm._failures.clear()
    summary = result.json()
    assert result.code == 0, result.stderr
    assert summary["contexts_failed"] == summary["chunks"] > 0
    assert summary["chunks_contextualized"] == 0
    assert any("without a context" in w and "not JSON" in w for w in summary["warnings"])
    got = stored(cluster, collection)
    assert len(got["ids"]) == summary["chunks"]
    assert not any("context" in m for m in got["metadatas"])

    # Asked again, the chunks without a context are sent to the LLM once more.
    retry = ingest(cluster, llm, collection, "1003")
    assert retry.json()["chunks_contextualized"] == summary["chunks"]
    assert all("context" in m for m in stored(cluster, collection)["metadatas"])


def test_ask_answers_citing_passages_that_exist(
    cluster: Cluster, llm: LLMServer, books: tuple[str, int, Any]
) -> None:
    collection = books[0]
    question = "How should climbing roses be pruned?"
    result = run_cli(["ask", question, "-k", "3", "--json", "--collection", collection],
                     cluster.env(**llm_env(llm)))
    assert result.code == 0, result.stderr
    answer = result.json()
    assert answer["sources"], answer
    ids = set(ChunkStore.connect(cluster.chroma_url, collection).all_ids())
    for source in answer["sources"]:
        assert f"[{source['label']}]" in answer["answer"]
        assert source["chunk_id"] in ids
        assert source["label"] == f"{source['book_id']}:{source['position']}"
    assert answer["sources"][0]["book_id"] == "1002"
    assert answer["unknown_citations"] == []
    assert question in llm.log[-1].content


def test_ask_without_an_llm_says_so_and_prints_the_passages(
    cluster: Cluster, books: tuple[str, int, Any]
) -> None:
    collection = books[0]
    env = cluster.env()
    for name in ("LLM_BASE_URL", "LLM_MODEL"):
        env.pop(name, None)
    result = run_cli(["ask", "climbing roses", "-k", "2", "--collection", collection], env)
    assert result.code == 0, result.stderr
    assert "No LLM is configured" in result.stderr
    assert result.stdout.count("[1002:") == 2
