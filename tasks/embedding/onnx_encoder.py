"""The lean ONNX encoder: the `tokenizers` library, a runtime session and numpy pooling.

This is what the onnx backends run in a worker process. It imports neither torch nor
sentence-transformers (about 0.4 GiB per process once imported, and nothing here needs them):
tokenizing, pooling and normalising are a few lines each, done exactly as the model folder's
sentence-transformers modules prescribe (tasks/embedding/layout.py). Exporting the ONNX file the
first time still uses sentence-transformers, in a separate process (tasks/embedding/export.py).
The runtime is onnxruntime, or OpenVINO for the variants it runs (tasks/embedding/openvino_run.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from tokenizers import Encoding, Tokenizer

from tasks.embedding.layout import ModelLayout
from tasks.embedding.variants import FP32, Variant


class TokenStates(Protocol):
    """A loaded model file: token ids in, the token states (batch, tokens, dim) out."""

    input_names: set[str]
    threads: int  # compute threads it runs with (0: the runtime's own choice)

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray: ...


class OrtTokenStates:
    """The model file run by onnxruntime."""

    def __init__(self, onnx_file: Path, threads: int) -> None:
        # Imported here: an OpenVINO process has no use for its 35 MiB.
        import onnxruntime as ort

        options = ort.SessionOptions()
        # 0 lets onnxruntime pick (one thread per physical core); workers pass their limit.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(onnx_file), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.threads = options.intra_op_num_threads
        # sentence-transformers' ONNX exports name the token states last_hidden_state and put
        # them first; some exports add a pooled output after it.
        self._output = self.session.get_outputs()[0].name

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self.session.run([self._output], feeds)[0], dtype=np.float32)


def load_token_states(model_file: Path, threads: int, variant: Variant) -> TokenStates:
    """`model_file` loaded by the variant's runtime (onnxruntime or openvino)."""
    if variant.runtime == "openvino":
        from tasks.embedding.openvino_run import OpenVinoTokenStates

        return OpenVinoTokenStates(model_file, threads, variant.float_precision)
    return OrtTokenStates(model_file, threads)


class OnnxEncoder:
    """Encodes one batch of texts into pooled unit vectors, as sentence-transformers would."""

    def __init__(
        self, model_folder: Path, model_file: Path, threads: int, variant: Variant = FP32
    ) -> None:
        self.layout = ModelLayout.read(model_folder)
        # >0: every text runs padded to its own length rounded up to this multiple, with only the
        # texts of the same padded length (tasks/embedding/variants.py, Variant.pad_multiple).
        self.pad_multiple = variant.pad_multiple
        self.tokenizer = batch_tokenizer(
            model_folder / "tokenizer.json", self.layout.max_tokens, self.pad_multiple
        )
        self.states = load_token_states(model_file, threads, variant)

    @property
    def dimension(self) -> int:
        return self.layout.dimension

    @property
    def max_tokens(self) -> int:
        return self.layout.max_tokens

    def token_lengths(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text becomes (special tokens included, cut at the window)."""
        # Padded to the longest, so the real tokens are the ones the attention mask keeps.
        return [sum(e.attention_mask) for e in self._tokenize(texts)]

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """float32 vectors for `texts`, padded together to the longest of them (or, with
        `pad_multiple`, each to its own rounded-up length, run in groups of equal length)."""
        encodings = self._tokenize(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        }
        if "token_type_ids" in self.states.input_names:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        if not self.pad_multiple:
            return self._run(feeds)
        # A row padded to the longest holds itself padded to any width between its length and
        # that: the first `width` columns when padding goes on the right, the last on the left.
        left = (self.tokenizer.padding or {}).get("direction") == "left"
        lengths = feeds["attention_mask"].sum(axis=1)
        widths = np.minimum(
            -(-lengths // self.pad_multiple) * self.pad_multiple, feeds["input_ids"].shape[1]
        )
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for width in np.unique(widths):
            rows = np.flatnonzero(widths == width)
            columns = slice(-width, None) if left else slice(0, width)
            out[rows] = self._run({name: v[rows, columns] for name, v in feeds.items()})
        return out

    def _tokenize(self, texts: Sequence[str]) -> list[Encoding]:
        # encode_batch_fast skips the character offsets, which pooling never reads: a fifth of
        # the tokenizer's time.
        return list(self.tokenizer.encode_batch_fast(list(texts)))

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        vectors = pool(self.states.run(feeds), feeds["attention_mask"], self.layout.pooling)
        # Unit length whether or not the model ends in Normalize (it usually does, and then this
        # is that module): ragmill stores unit vectors so cosine similarity is a dot product, as
        # the torch backend's normalize_embeddings=True does.
        return normalize(vectors)


def pool(states: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """sentence-transformers' Pooling over token states (batch, tokens, dim) with their mask."""
    weights = mask[:, :, None].astype(np.float32)
    if mode == "cls":
        return states[:, 0].copy()
    if mode == "max":
        # Padding must never win the max, as in sentence-transformers (which uses -1e9).
        return np.where(weights > 0, states, np.float32(-1e9)).max(axis=1)
    summed = (states * weights).sum(axis=1)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    if mode == "mean":
        return summed / counts
    if mode == "mean_sqrt_len":
        return summed / np.sqrt(counts)
    raise ValueError(f"pooling mode {mode!r} is not one of cls, max, mean, mean_sqrt_len")


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as torch.nn.functional.normalize does (norm floored at 1e-12)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def batch_tokenizer(path: Path, window: int, pad_multiple: int = 0) -> Tokenizer:
    """The model's tokenizer, cutting at the window and padding each batch to its longest row.

    The shipped tokenizer.json of all-MiniLM-L6-v2 truncates at 128 and pads every row to 128;
    sentence-transformers overrides both per call (its window, pad to the longest), so do the same.
    """
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=window)
    shipped = tokenizer.padding or {}
    pad_token = str(shipped.get("pad_token") or "[PAD]")
    pad_id = shipped.get("pad_id")
    tokenizer.enable_padding(
        pad_id=int(pad_id if pad_id is not None else tokenizer.token_to_id(pad_token) or 0),
        pad_type_id=int(shipped.get("pad_type_id") or 0),
        pad_token=pad_token,
        direction=str(shipped.get("direction") or "right").lower(),
        pad_to_multiple_of=pad_multiple or None,
    )
    return tokenizer
