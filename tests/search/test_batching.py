"""Micro-batching: concurrent questions share one model run and one Chroma query, and get exactly
the vectors and answers they would get alone."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from pipeline.search.library import Library
from pipeline.search.query_batching import BatchingEncoder, MicroBatcher
from tasks.embedding import Embedder
from tasks.settings import Settings

# Questions of very different token lengths, so a batch pads most of them.
QUESTIONS = [
    "whales", "a proposal of marriage refused by a proud young woman at a country house",
    "Queequeg", "l'été dernier à Paris", "the white whale and the captain who hunts it " * 4,
    "a garden", "who watched the sea from the ship's deck at night?", "東京の夜",
]


@pytest.mark.parametrize("backend", ["onnx", "configured"])
def test_batched_vectors_are_bitwise_those_encoded_alone(embedder: Embedder,
                                                         backend: str) -> None:
    # fp32 (onnx) runs the batch padded together; the configured backend as it is set.
    model = embedder if backend == "configured" else Embedder(embedder.model_name,
                                                               backend=backend, threads=1)
    alone = np.stack([model.encode([q])[0] for q in QUESTIONS])
    together = BatchingEncoder(model).encode(QUESTIONS)
    assert np.array_equal(alone, together)


class SlowEncoder:
    """An encoder that takes 50 ms a run and records each run's texts (the model is not what is
    under test here: how calls are grouped is)."""

    model_name = "slow"
    backend = "test"
    dimension = 2

    def __init__(self) -> None:
        self.runs: list[list[str]] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.runs.append(list(texts))
        time.sleep(0.05)
        return np.array([[len(t), i] for i, t in enumerate(texts)], dtype=np.float32)


def test_questions_arriving_during_a_run_share_the_next_run() -> None:
    slow = SlowEncoder()
    batching = BatchingEncoder(slow)
    texts = [f"question {i}" * (i + 1) for i in range(9)]
    with ThreadPoolExecutor(9) as pool:
        first = pool.submit(batching.encode, [texts[0]])
        time.sleep(0.01)  # the first run is under way; the other eight wait for the next
        rest = [pool.submit(batching.encode, [t]) for t in texts[1:]]
        answers = [first.result()] + [r.result() for r in rest]
    assert len(slow.runs) == 2 and sorted(slow.runs[1]) == sorted(texts[1:])
    # Each caller gets the row of its own text.
    assert [a[0][0] for a in answers] == [len(t) for t in texts]


def test_an_error_in_a_run_reaches_every_caller_and_the_next_run_goes_on() -> None:
    calls = []

    def run(key: object, items: list[int]) -> list[int]:
        calls.append(items)
        if 0 in items:
            raise ValueError("zero")
        return [i * 2 for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_items=8)
    with pytest.raises(ValueError, match="zero"):
        batcher.submit("k", [0, 1])
    assert batcher.submit("k", [3]) == [6]


def test_runs_of_different_keys_go_at_the_same_time() -> None:
    inside = threading.Barrier(2, timeout=5)

    def run(key: object, items: list[int]) -> list[int]:
        inside.wait()  # both keys' runs must be under way at once to get past this
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_items=8)
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.submit(batcher.submit, "a", [1]), pool.submit(batcher.submit, "b", [2])
        assert (a.result(), b.result()) == ([1], [2])


@pytest.mark.parametrize("book", [None, "1001"])
def test_concurrent_searches_answer_as_searches_alone(library: Settings, embedder: Embedder,
                                                      book: str | None) -> None:
    alone = [Library(settings=library, embedder=embedder).search(q, 3, book=book)
             for q in QUESTIONS]
    shared = Library(settings=library, embedder=embedder)
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        together = list(pool.map(lambda q: shared.search(q, 3, book=book), QUESTIONS))
    assert together == alone
