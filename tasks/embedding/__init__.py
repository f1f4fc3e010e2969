"""The embedding engine: model backends behind one `Embedder` interface."""

from tasks.embedding.embedder import Embedder, limit_compute_threads

__all__ = ["Embedder", "limit_compute_threads"]
