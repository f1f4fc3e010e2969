"""Other tools read a ragmill collection: chromadb, LangChain and LlamaIndex find its passages."""

from __future__ import annotations

import pytest

from pipeline.search.chroma_function import LangChainEmbeddings, RagmillEmbeddingFunction
from pipeline.search.library import Library
from tasks.collection_record import model_name, quantisation_of
from tasks.embedding import Embedder
from tasks.settings import Settings
from tasks.store import chroma_client

pytestmark = pytest.mark.e2e

QUESTION = "a harpoon thrown at a whale"


def ragmill_ids(library: Settings, embedder: Embedder, k: int = 3) -> list[str]:
    return [r.chunk_id for r in Library(settings=library, embedder=embedder).search(QUESTION, k)]


def test_a_plain_chromadb_client_queries_with_texts_as_ragmill_does(
    library: Settings, embedder: Embedder
) -> None:
    client = chroma_client(str(library.chroma_url))
    function = RagmillEmbeddingFunction.for_collection(client.get_collection(library.collection))
    books = client.get_collection(library.collection, embedding_function=function)
    found = books.query(query_texts=[QUESTION], n_results=3)
    assert found["ids"][0] == ragmill_ids(library, embedder)
    # The same vectors: distances are ragmill's scores.
    scores = [r.score for r in Library(settings=library, embedder=embedder).search(QUESTION, 3)]
    assert [round(1 - d, 4) for d in found["distances"][0]] == scores


def test_the_function_uses_the_model_backend_and_variant_the_collection_records(
    library: Settings,
) -> None:
    client = chroma_client(str(library.chroma_url))
    recorded = client.get_or_create_collection("recorded_torch", metadata={
        "ragmill:model": library.model, "ragmill:backend": "torch", "ragmill:quantisation": "fp32"
    })
    function = RagmillEmbeddingFunction.for_collection(recorded)
    assert (function.model, function.backend, function.variant) == (library.model, "torch", "")
    static = client.get_or_create_collection("recorded_static", metadata={
        "ragmill:model": library.model, "ragmill:backend": "onnx-int8",
        "ragmill:quantisation": "int8-static-openvino",
    })
    assert RagmillEmbeddingFunction.for_collection(static).variant == (
        "int8-static-openvino"
    )
    ingested = RagmillEmbeddingFunction.for_collection(client.get_collection(library.collection))
    assert (ingested.model, ingested.backend, ingested.variant) == (
        model_name(library.model), library.embed_backend,
        quantisation_of(library.embed_backend, library.embed_variant),
    )
    # Written before collections recorded anything: fp32 ONNX, as ragmill itself reads it.
    unrecorded = RagmillEmbeddingFunction.for_collection(
        client.get_or_create_collection("unrecorded")
    )
    assert (unrecorded.model, unrecorded.backend, unrecorded.variant) == (
        library.model, "onnx", "fp32"
    )
    assert RagmillEmbeddingFunction.build_from_config(function.get_config()).get_config() == {
        "model": library.model, "backend": "torch", "variant": ""
    }


def test_langchain_chroma_finds_what_ragmill_finds(library: Settings, embedder: Embedder) -> None:
    langchain_chroma = pytest.importorskip("langchain_chroma")
    client = chroma_client(str(library.chroma_url))
    function = RagmillEmbeddingFunction.for_collection(client.get_collection(library.collection))
    store = langchain_chroma.Chroma(client=client, collection_name=library.collection,
                                    embedding_function=LangChainEmbeddings(function))
    documents = store.similarity_search(QUESTION, k=3)
    expected = Library(settings=library, embedder=embedder).search(QUESTION, 3)
    assert [d.page_content for d in documents] == [r.text for r in expected]
    assert documents[0].metadata["book_id"] == "1001"


def test_llamaindex_chroma_finds_what_ragmill_finds(library: Settings, embedder: Embedder) -> None:
    chroma_store = pytest.importorskip("llama_index.vector_stores.chroma")
    from llama_index.core.vector_stores import VectorStoreQuery

    client = chroma_client(str(library.chroma_url))
    collection = client.get_collection(library.collection)
    function = RagmillEmbeddingFunction.for_collection(collection)
    store = chroma_store.ChromaVectorStore(chroma_collection=collection)
    vector = function([QUESTION])[0].tolist()
    found = store.query(VectorStoreQuery(query_embedding=vector, similarity_top_k=3))
    assert found.ids == ragmill_ids(library, embedder)
    assert found.nodes is not None and found.nodes[0].metadata["book_id"] == "1001"
