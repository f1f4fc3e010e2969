"""Retrieval quality of a backend against torch: recall@k of top-k lists and vector cosines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Fixed queries over the opening books of the corpus (adventure, romance, war, sea, science and
# more), so the same top-k lists are compared on every run.
QUERIES = (
    "a girl falls down a rabbit hole into a strange world",
    "a soldier fights strange creatures on the planet Mars",
    "a proud gentleman proposes marriage and is refused",
    "a ship caught in a violent storm at sea",
    "a scientist creates a living creature",
    "a detective examines clues at the scene of a crime",
    "the horrors of war and soldiers in the trenches",
    "a long journey on foot through the mountains",
    "a wedding feast with music and dancing",
    "an old man tells a story by the fire",
    "money troubles and debts of a family",
    "a letter arrives with news of a death",
    "children playing in a garden in summer",
    "a king and his court in a great castle",
    "a trial in court before a judge",
    "a ghost appears at midnight",
    "the beauty of the countryside in spring",
    "a wooden puppet whose nose grows when he lies",
    "an argument between two brothers about inheritance",
    "prayer, faith and the nature of God",
)


@dataclass(frozen=True)
class Quality:
    """How close one backend's vectors and rankings are to torch's."""

    backend: str
    recall_at_k: float
    k: int
    cosine_mean: float
    cosine_min: float

    def as_dict(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            f"recall_at_{self.k}": round(self.recall_at_k, 4),
            "cosine_mean": round(self.cosine_mean, 5),
            "cosine_min": round(self.cosine_min, 5),
        }


def top_k(documents: np.ndarray, queries: np.ndarray, k: int) -> list[set[int]]:
    """Indices of the k documents closest to each query (vectors are unit length)."""
    scores = queries @ documents.T
    k = min(k, documents.shape[0])
    best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return [set(map(int, row)) for row in best]


def compare(
    backend: str,
    documents: np.ndarray,
    queries: np.ndarray,
    reference_documents: np.ndarray,
    reference_queries: np.ndarray,
    k: int = 5,
) -> Quality:
    """Recall@k of `backend`'s top-k against the reference's top-k, and per-chunk cosines."""
    ours = top_k(documents, queries, k)
    theirs = top_k(reference_documents, reference_queries, k)
    kk = min(k, documents.shape[0])
    recall = float(np.mean([len(a & b) / kk for a, b in zip(ours, theirs, strict=True)]))
    cosines = np.sum(documents * reference_documents, axis=1)
    return Quality(backend, recall, k, float(cosines.mean()), float(cosines.min()))
