"""Turns chunk texts into normalised vectors with a sentence-transformers model.

One `Embedder` lives per worker process (the model loads once, never per task). Backends are
chosen by EMBED_BACKEND: `onnx` and `onnx-int8` run an ONNX variant of the model
(tasks/embedding/variants.py) on the lean path, onnxruntime plus `tokenizers`, without torch
(tasks/embedding/onnx_encoder.py); `torch` runs sentence-transformers itself. Each returns
float32 unit vectors so cosine similarity is a dot product.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from tasks.settings import ONNX_BACKENDS

BACKENDS = ("onnx", "onnx-int8", "torch")


def limit_compute_threads(threads: int) -> None:
    """Give this process `threads` compute threads.

    With one prefork process per core, N processes each using N threads oversubscribe the CPU
    and run slower than one thread each. The environment variables must be set before torch or
    onnxruntime initialise their pools, so call this before the model loads. torch is limited
    here only if something already imported it: the ONNX backends never do, and the torch
    backend applies the limit itself when it loads (OMP_NUM_THREADS, read by `Embedder`).
    """
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    # Rust tokenizers would otherwise start a thread pool per process as well.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


class Encoder(Protocol):
    """What a backend provides: one batch in, one row of vectors per text out."""

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def token_lengths(self, texts: Sequence[str]) -> list[int]: ...

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray: ...


class Embedder:
    """A loaded model plus the batch size it encodes with.

    Some variants run fewer texts at once than `batch_size` (`rows_per_run`, see
    tasks/embedding/variants.py) so that a text's vector never depends on its batch-mates.

    `model_name`, `backend`, `variant` and `dimension` say what made a vector: a collection
    records them so that vectors of different makings are never mixed.
    """

    def __init__(
        self,
        model: str,
        *,
        backend: str = "onnx",
        batch_size: int = 32,
        threads: int | None = None,
        variant: str | None = None,
    ) -> None:
        self.model_name = model
        self.backend = backend
        self.batch_size = batch_size
        started = time.monotonic()
        self.variant, self.encoder, self.rows_per_run = _load(
            model, backend, variant, _threads(threads)
        )
        self.load_seconds = time.monotonic() - started

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    @property
    def max_tokens(self) -> int:
        """The model's token window, special tokens included."""
        return self.encoder.max_tokens

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text becomes (special tokens included, cut at the model's window)."""
        return self.encoder.token_lengths(texts)

    def encode(self, texts: Sequence[str], lengths: Sequence[int] | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in input order.

        `lengths`, the texts' token counts when already known (the chunker counted them), saves
        tokenizing every text once more just to sort.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Batches of similar token length pad least: every row of a batch is padded to its
        # longest, and padding costs as much compute as real tokens. sentence-transformers sorts
        # by characters, which only approximates tokens, so sort by tokens here.
        if lengths is None or len(lengths) != len(texts):
            lengths = self.token_lengths(texts)
        order = np.argsort(-np.asarray(lengths), kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for rows in self._batches(order, np.asarray(lengths)):
            out[rows] = self.encoder.encode_batch([texts[i] for i in rows])
        return out

    def _batches(self, order: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
        """`order` cut into runs of the batch size (or `rows_per_run`). Where each text runs
        padded to its own rounded-up length, runs are cut within one padded length, so they stay
        whole and few shapes repeat (the encoder splits a mixed run anyway)."""
        step = self.rows_per_run or self.batch_size
        multiple = getattr(self.encoder, "pad_multiple", 0)
        if not multiple:
            return [order[start : start + step] for start in range(0, len(order), step)]
        widths = -(-lengths[order] // multiple)
        cuts = np.flatnonzero(np.diff(widths)) + 1
        return [
            group[start : start + step]
            for group in np.split(order, cuts)
            for start in range(0, len(group), step)
        ]


def _threads(threads: int | None) -> int:
    """The compute threads to use: as given, else the process's limit, else the runtime's pick."""
    if threads:
        return threads
    try:
        return max(0, int(os.environ.get("OMP_NUM_THREADS", "0")))
    except ValueError:
        return 0


def _load(
    model: str, backend: str, variant: str | None, threads: int
) -> tuple[str, Encoder, int]:
    """(variant name, encoder, texts per run or 0 for the batch size) for a backend."""
    if backend == "torch":
        if variant not in (None, "", "fp32"):
            raise ValueError(f"EMBED_VARIANT={variant!r}: EMBED_BACKEND=torch has only fp32")
        from tasks.embedding.torch_encoder import TorchEncoder

        return "fp32", TorchEncoder(model, threads), 0
    if backend in ONNX_BACKENDS:
        from tasks.embedding.cache import ensure_export
        from tasks.embedding.onnx_encoder import OnnxEncoder
        from tasks.embedding.variants import resolve

        chosen = resolve(backend, variant)
        directory, file_name = ensure_export(model, backend, chosen.name)
        source = Path(model).expanduser()
        encoder = OnnxEncoder(source, directory / file_name, threads, chosen)
        return chosen.name, encoder, chosen.rows_per_run
    raise ValueError(f"EMBED_BACKEND={backend!r} is not one of {', '.join(BACKENDS)}")
