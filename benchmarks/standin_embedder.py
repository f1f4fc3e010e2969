"""A benchmark part: embed workers that look their vectors up instead of running the model.

benchmarks/ceiling.py and benchmarks/million.py start their embed workers with
`celery ... worker -I benchmarks.standin_embedder` and RAGMILL_STANDIN_VECTORS naming a table
(.npz) of real vectors, computed once with the real model for the very chunks the run will cut.
Importing this module in such a worker replaces `tasks.resources.embedder` with a lookup by the
chunk text's hash, so an embed task still does everything else it does (the collection check,
the upsert into Chroma, the ledger) while the model's cost drops to a dictionary lookup: the
shared parts become the only work. It is not a backend: nothing outside benchmarks/ imports it,
and without the variable it changes nothing.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from celery.signals import worker_process_init

from tasks import resources

VECTORS_ENV = "RAGMILL_STANDIN_VECTORS"
# benchmarks/million.py stores each chunk text many times under distinct ids; this norm of random
# noise, added to each vector served, keeps the copies near each other but never identical
# points (a graph index of exact duplicates would not behave as one of real data).
JITTER_ENV = "RAGMILL_STANDIN_JITTER"
log = logging.getLogger(__name__)


def text_key(text: str) -> str:
    """The table's key for a chunk text: what the worker embeds is the text itself."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class VectorTable:
    """Real vectors of known texts, served as an `Embedder.encode` would serve them."""

    def __init__(self, keys: Sequence[str], vectors: np.ndarray, jitter: float = 0.0) -> None:
        self.row = {key: i for i, key in enumerate(keys)}
        self.vectors = vectors.astype(np.float32, copy=False)
        self.jitter = jitter
        self.rng = np.random.default_rng()
        self.lookups = 0

    @classmethod
    def load(cls, path: Path, jitter: float = 0.0) -> VectorTable:
        with np.load(path) as table:
            return cls([str(k) for k in table["keys"]], table["vectors"], jitter)

    @staticmethod
    def save(path: Path, texts: Sequence[str], vectors: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array([text_key(t) for t in texts])
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors.astype(np.float32))
        os.replace(tmp, path)

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    def encode(self, texts: Sequence[str], lengths: Sequence[int] | None = None) -> np.ndarray:
        """The texts' vectors; a text the table lacks is an error, never a made-up vector."""
        rows = [self.row.get(text_key(t)) for t in texts]
        missing = sum(r is None for r in rows)
        if missing:
            raise LookupError(f"stand-in embedder: {missing} of {len(texts)} texts not in table")
        self.lookups += len(texts)
        found = self.vectors[[r for r in rows if r is not None]]
        if not self.jitter:
            return found
        noise = self.rng.standard_normal(found.shape).astype(np.float32)
        noise *= self.jitter / np.linalg.norm(noise, axis=1, keepdims=True)
        moved = found + noise
        return moved / np.linalg.norm(moved, axis=1, keepdims=True)


def install(path: Path) -> None:
    """Make `resources.embedder()` return the table at `path` in this process and its forks.

    Wrapped in functools.cache like the original, because `resources.reset()` (run in each
    freshly forked pool process) calls `embedder.cache_clear()`.
    """

    @functools.cache
    def table() -> VectorTable:
        loaded = VectorTable.load(path, float(os.environ.get(JITTER_ENV, "0")))
        # ceiling.py reads this line in the worker's log to know the stand-in, not the model, ran.
        log.warning("stand-in embedder: %d vectors from %s in pid %d",
                    len(loaded.row), path, os.getpid())
        return loaded

    resources.embedder = table  # type: ignore[assignment]


@worker_process_init.connect
def _install_in_pool_process(**_: Any) -> None:
    # Also after the fork, in case a pool process re-imported `tasks.resources`.
    if os.environ.get(VECTORS_ENV):
        install(Path(os.environ[VECTORS_ENV]))


if os.environ.get(VECTORS_ENV):
    install(Path(os.environ[VECTORS_ENV]))
