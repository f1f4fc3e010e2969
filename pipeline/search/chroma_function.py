"""A Chroma embedding function that embeds as a ragmill collection records, for other tools.

ragmill stores vectors it made itself, so Chroma does not know how to embed a query for them: a
plain `chromadb` client, LangChain's `Chroma` or LlamaIndex's `ChromaVectorStore` would embed
with some other model and find nonsense. `RagmillEmbeddingFunction.for_collection` reads the
model, backend and quantisation the collection records (metadata `ragmill:model`,
`ragmill:backend`, `ragmill:quantisation`) and embeds exactly as the workers did:

    import chromadb
    from pipeline.search.chroma_function import RagmillEmbeddingFunction

    client = chromadb.HttpClient(host="127.0.0.1", port=8000)
    function = RagmillEmbeddingFunction.for_collection(client.get_collection("ragmill"))
    books = client.get_collection("ragmill", embedding_function=function)
    books.query(query_texts=["a monster made by a scientist"], n_results=3)

A collection that records no model (written before ragmill recorded it) is read as the rest of
ragmill reads it: EMBED_MODEL in fp32 ONNX, the default backend of that time. docs/search.md
shows LangChain and LlamaIndex.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space

from tasks.collection_record import BACKEND_KEY, MODEL_KEY, QUANTISATION_KEY
from tasks.embedding import Embedder
from tasks.settings import ONNX_BACKENDS, Settings

# Collection metadata the collection record writes (keys prefixed `ragmill:`).


def model_location(model: str) -> str:
    """Where the model a record names is: records keep a name ("all-MiniLM-L6-v2"), not the path
    it had on the machine that wrote them; the bundled model and EMBED_MODEL are looked up by it."""
    from tasks.collection_record import model_name
    from tasks.settings import default_model

    for candidate in (default_model(), Settings.from_env().model):
        if model in (candidate, model_name(candidate)):
            return candidate
    return model


class RagmillEmbeddingFunction(EmbeddingFunction[Documents]):
    """Embeds texts with one ragmill model, backend and ONNX variant; the model loads on first use.

    Unset arguments come from the settings (EMBED_MODEL, EMBED_BACKEND, EMBED_VARIANT).
    """

    def __init__(
        self, model: str | None = None, backend: str | None = None, variant: str | None = None
    ) -> None:
        settings = Settings.from_env() if model is None or backend is None else None
        self.model = model or (settings.model if settings else "")
        self.backend = backend or (settings.embed_backend if settings else "")
        if variant is None and settings is not None and backend is None:
            variant = settings.embed_variant
        # A variant is a form of an ONNX model; the other backends have none.
        self.variant = (variant or "") if self.backend in ONNX_BACKENDS else ""
        self._embedder: Embedder | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_collection(cls, collection: Any) -> RagmillEmbeddingFunction:
        """The function for a chromadb Collection, from the model, backend and quantisation it
        records; fp32 ONNX of EMBED_MODEL for a collection that records none."""
        meta = collection.metadata or {}
        if not meta.get(BACKEND_KEY):
            return cls(meta.get(MODEL_KEY) or Settings.from_env().model, "onnx", "fp32")
        return cls(meta.get(MODEL_KEY) or None, meta[BACKEND_KEY], meta.get(QUANTISATION_KEY))

    def __call__(self, input: Documents) -> Embeddings:
        with self._lock:
            if self._embedder is None:
                self._embedder = Embedder(
                    model_location(self.model), backend=self.backend, variant=self.variant or None
                )
        vectors = self._embedder.encode(list(input))
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    @staticmethod
    def name() -> str:
        return "ragmill"

    def default_space(self) -> Space:
        return "cosine"  # ragmill's vectors are unit length and its collections use cosine

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model, "backend": self.backend, "variant": self.variant}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> RagmillEmbeddingFunction:
        return RagmillEmbeddingFunction(
            config.get("model"), config.get("backend"), config.get("variant") or ""
        )


class LangChainEmbeddings:
    """The same embedding as LangChain's `Embeddings` interface (embed_documents, embed_query),
    for `langchain_chroma.Chroma(embedding_function=...)`; LangChain itself is not needed here."""

    def __init__(self, function: RagmillEmbeddingFunction) -> None:
        self.function = function

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [np.asarray(v).tolist() for v in self.function(texts)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
