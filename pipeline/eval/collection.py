"""Asking the questions of a stored collection: the one part of pipeline.eval that reads a store.

The questions are embedded once, together (one encode call instead of one model run per
question), and each is then a nearest-neighbour query to Chroma, exactly as `ragmill query`
asks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pipeline.eval.matching import Retrieved
from pipeline.eval.metrics import RECALL_KS, EvalResult, evaluate
from pipeline.eval.questions import Question
from tasks.embedding.backend import TextEncoder
from tasks.store import ChunkStore

__all__ = ["StoreSearch", "evaluate_store"]


@dataclass
class StoreSearch:
    """A `Search` over one collection for a known list of question texts.

    It also keeps the title of every book it has seen in a result, for the per-book table.
    """

    store: ChunkStore
    texts: Sequence[str]
    vectors: np.ndarray
    titles: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rows = {text: i for i, text in enumerate(self.texts)}
        self._stored = self.store.count()

    def __call__(self, text: str, k: int) -> list[Retrieved]:
        hits = self.store.search(self.vectors[self._rows[text]], min(k, self._stored))
        found = []
        for hit in hits:
            book = str(hit.metadata.get("book_id", ""))
            if hit.metadata.get("title"):
                self.titles.setdefault(book, str(hit.metadata["title"]))
            found.append(Retrieved(id=hit.id, text=hit.text, book_id=book))
        return found


def evaluate_store(
    store: ChunkStore,
    embedder: TextEncoder,
    questions: Sequence[Question],
    ks: Sequence[int] = RECALL_KS,
) -> tuple[EvalResult, dict[str, str]]:
    """Scores of `questions` over `store`, and the titles of the books the results named."""
    texts = list(dict.fromkeys(q.question for q in questions))
    search = StoreSearch(store, texts, embedder.encode(texts))
    return evaluate(questions, search, ks), search.titles
