"""A model cache of a test's own: where ONNX exports of the bundled model are written."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def model_cache_at(cache: Path) -> Iterator[Path]:
    """Point RAGMILL_MODEL_CACHE at `cache` for the block, then restore what it was."""
    saved = os.environ.get("RAGMILL_MODEL_CACHE")
    os.environ["RAGMILL_MODEL_CACHE"] = str(cache)
    try:
        yield cache
    finally:
        if saved is None:
            os.environ.pop("RAGMILL_MODEL_CACHE", None)
        else:
            os.environ["RAGMILL_MODEL_CACHE"] = saved
