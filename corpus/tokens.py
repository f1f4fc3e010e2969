"""Loading a model's own tokenizer and token window, so chunks are measured as it sees them."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer

from corpus.errors import CorpusError

__all__ = ["DEFAULT_WINDOW", "load_tokenizer", "model_window"]

# BERT-family models (most sentence-transformers models) accept 512 positions.
DEFAULT_WINDOW = 512


def load_tokenizer(model_dir: Path) -> Tokenizer:
    """Load ``<model_dir>/tokenizer.json`` without truncation or padding, to count real lengths."""
    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise CorpusError(
            f"{model_dir}: no tokenizer.json; point at a sentence-transformers model folder"
        )
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as err:  # the Rust side raises plain Exception on a malformed file
        raise CorpusError(
            f"{path}: cannot load the tokenizer ({err}); re-install the model"
        ) from err
    # The shipped file truncates at 128 and pads, which would hide over-long chunks.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def model_window(model_dir: Path) -> int:
    """The model's token window: ``max_seq_length`` from sentence_bert_config.json, else 512."""
    path = model_dir / "sentence_bert_config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return DEFAULT_WINDOW
    window = config.get("max_seq_length") if isinstance(config, dict) else None
    if isinstance(window, int) and not isinstance(window, bool) and window > 0:
        return window
    return DEFAULT_WINDOW
