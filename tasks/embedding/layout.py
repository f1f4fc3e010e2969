"""What a sentence-transformers model folder says about turning token states into a vector.

The lean ONNX path runs the transformer in onnxruntime and does the rest itself, so it must do
exactly what the folder's sentence-transformers modules would: the token window, the pooling
(1_Pooling/config.json) and whether a Normalize module follows (modules.json). Both the folder
layout sentence-transformers 2-4 writes (``pooling_mode_mean_tokens: true``, ``max_seq_length`` in
sentence_bert_config.json) and the one 5.x writes (``pooling_mode: "mean"``, the window as the
tokenizer's ``model_max_length``) are read. A folder with any other module (Dense, a custom layer)
is refused with one line: such models run on EMBED_BACKEND=torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.errors import TaskError

# Pooling modes the lean path computes, keyed by the names both config layouts use.
POOLING_MODES = {
    "mean": "mean",
    "mean_tokens": "mean",
    "cls": "cls",
    "cls_token": "cls",
    "max": "max",
    "max_tokens": "max",
    "mean_sqrt_len_tokens": "mean_sqrt_len",
    "mean_sqrt_len": "mean_sqrt_len",
}
# Windows past this are tokenizer placeholders ("no limit"), not the model's.
_PLACEHOLDER_WINDOW = 100_000


class LayoutError(TaskError, ValueError):
    """The model folder holds something the ONNX backends cannot reproduce."""


@dataclass(frozen=True)
class ModelLayout:
    """The token window, pooling and normalisation a model folder prescribes."""

    max_tokens: int
    pooling: str  # one of POOLING_MODES' values
    normalize: bool
    dimension: int

    @classmethod
    def read(cls, folder: Path) -> ModelLayout:
        modules = _json(folder / "modules.json", default=None)
        if not isinstance(modules, list):
            raise LayoutError(
                f"{folder}: no modules.json; point EMBED_MODEL at a sentence-transformers folder"
            )
        kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
        unknown = sorted(set(kinds) - {"Transformer", "Pooling", "Normalize"})
        if unknown or "Pooling" not in kinds:
            raise LayoutError(
                f"{folder}: modules {', '.join(unknown) or 'without Pooling'} are not supported "
                "by the ONNX backends; use EMBED_BACKEND=torch for this model"
            )
        pooling_path = modules[kinds.index("Pooling")].get("path", "1_Pooling")
        pooling, dimension = _pooling(folder / pooling_path / "config.json")
        return cls(
            max_tokens=_window(folder),
            pooling=pooling,
            normalize="Normalize" in kinds,
            dimension=dimension,
        )


def _pooling(path: Path) -> tuple[str, int]:
    config = _json(path, default={})
    dimension = int(config.get("embedding_dimension") or config.get("word_embedding_dimension", 0))
    named = config.get("pooling_mode")
    chosen = [named] if isinstance(named, str) else [
        key.removeprefix("pooling_mode_") for key, on in config.items()
        if key.startswith("pooling_mode_") and on is True
    ]
    if len(chosen) != 1 or chosen[0] not in POOLING_MODES or not dimension:
        raise LayoutError(
            f"{path}: pooling {chosen or 'unset'} is not one the ONNX backends compute "
            f"({', '.join(sorted(set(POOLING_MODES.values())))}); use EMBED_BACKEND=torch"
        )
    return POOLING_MODES[chosen[0]], dimension


def _window(folder: Path) -> int:
    """The token window, found where sentence-transformers itself looks for it."""
    declared = _json(folder / "sentence_bert_config.json", default={}).get("max_seq_length")
    if _is_window(declared):
        return int(declared)
    tokenizer_limit = _json(folder / "tokenizer_config.json", default={}).get("model_max_length")
    positions = _json(folder / "config.json", default={}).get("max_position_embeddings")
    limits = [int(v) for v in (tokenizer_limit, positions) if _is_window(v)]
    if not limits:
        raise LayoutError(f"{folder}: no token window in its config files; use EMBED_BACKEND=torch")
    return min(limits)


def _is_window(value: Any) -> bool:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    return is_int and 0 < value < _PLACEHOLDER_WINDOW


def _json(path: Path, *, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default
