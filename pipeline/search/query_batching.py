"""Work asked for at once by several threads, done together in one run (micro-batching).

A long-lived reader (the search service, a `Library` shared by threads) gets questions
concurrently. Two steps of a search cost far less per question when several go at once: one model
run over 8 short questions costs about half the CPU of 8 runs of one, and one Chroma query with 8
vectors costs the Chroma server and its client a third of 8 queries. So one thread, the leader,
does everything waiting under one key in one run, while what arrives meanwhile waits for the next
run; when a run ends, a waiting thread leads the next. There is no thread and no timer of its own:
a lone request runs at once, and under load eight clients cost one run, not eight.

The model runs one encode at a time in any case (its Rust tokenizer refuses concurrent use,
"Already borrowed"). A question's vector does not depend on its batch-mates: padded positions are
masked out, and tests/search/test_batching.py checks that batched and lone vectors, and batched
and lone Chroma answers, are equal. Variants whose vectors would depend on batch-mates (dynamic
int8) encode one text per run inside `Embedder.encode` anyway.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from tasks.embedding.backend import TextEncoder

Item = TypeVar("Item")
Out = TypeVar("Out")

# Texts per model run at most: past a few dozen short questions a bigger run saves nothing more
# and only makes the first of them wait longer.
MAX_BATCH_TEXTS = 64


# Compared by identity: a request is found in its queue as itself, never by its items.
@dataclass(eq=False)
class _Request(Generic[Item, Out]):
    items: list[Item]
    results: Sequence[Out] | None = None
    error: BaseException | None = None
    done: bool = False


class MicroBatcher(Generic[Item, Out]):
    """Runs `run(key, items)` for many threads at once: requests under one key that wait while
    a run of that key is going go together into its next run, up to `max_items` items.

    `run` returns one result per item, in order. Runs of different keys may go at the same time.
    """

    def __init__(self, run: Callable[[Any, list[Item]], Sequence[Out]], max_items: int) -> None:
        self._do = run
        self.max_items = max_items
        self._ready = threading.Condition()
        self._waiting: dict[Hashable, list[_Request[Item, Out]]] = {}
        self._running: set[Hashable] = set()
        # Runs made and items done, for the tests and the benchmark.
        self.runs = 0
        self.items = 0

    def submit(self, key: Hashable, items: Sequence[Item]) -> list[Out]:
        """The results of `items`, in order, once a run has done them."""
        request: _Request[Item, Out] = _Request(list(items))
        with self._ready:
            self._waiting.setdefault(key, []).append(request)
            while not request.done:
                if key not in self._running and request in self._waiting.get(key, ()):
                    batch = self._take(key)
                    break
                self._ready.wait()
            else:
                return self._result(request)
        self._run(key, batch)
        return self._result(request)

    def _take(self, key: Hashable) -> list[_Request[Item, Out]]:
        """The oldest requests of `key`, up to max_items items (at least one); called locked."""
        queue = self._waiting[key]
        batch: list[_Request[Item, Out]] = []
        total = 0
        while queue and (not batch or total + len(queue[0].items) <= self.max_items):
            batch.append(queue.pop(0))
            total += len(batch[-1].items)
        if not queue:
            del self._waiting[key]
        self._running.add(key)
        return batch

    def _run(self, key: Hashable, batch: list[_Request[Item, Out]]) -> None:
        items = [item for request in batch for item in request.items]
        results: Sequence[Out] | None = None
        error: BaseException | None = None
        try:
            results = self._do(key, items)
        except BaseException as exc:  # every request of the run gets its error
            error = exc
        with self._ready:
            start = 0
            for request in batch:
                if results is not None:
                    request.results = results[start:start + len(request.items)]
                request.error = error
                request.done = True
                start += len(request.items)
            self.runs += 1
            self.items += len(items)
            self._running.discard(key)
            self._ready.notify_all()

    @staticmethod
    def _result(request: _Request[Item, Out]) -> list[Out]:
        if request.error is not None:
            raise request.error
        assert request.results is not None
        return list(request.results)


class BatchingEncoder:
    """An encoder safe to share between threads that encodes concurrent calls in one run."""

    def __init__(self, encoder: TextEncoder, max_texts: int = MAX_BATCH_TEXTS) -> None:
        self.encoder = encoder
        self.model_name = encoder.model_name
        self.backend = encoder.backend
        self.batcher: MicroBatcher[str, np.ndarray] = MicroBatcher(self._encode, max_texts)

    def _encode(self, key: object, texts: list[str]) -> list[np.ndarray]:
        return list(self.encoder.encode(texts))

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of `texts`, in order, exactly as the wrapped encoder makes them."""
        if not texts:
            return self.encoder.encode([])
        return np.stack(self.batcher.submit(None, texts))


_ENCODERS: weakref.WeakKeyDictionary[object, BatchingEncoder] = weakref.WeakKeyDictionary()
_ENCODERS_LOCK = threading.Lock()


def batching_encoder(encoder: TextEncoder) -> BatchingEncoder:
    """The one BatchingEncoder of `encoder` in this process: every reader sharing a loaded model
    shares its queue, so the model never runs two encodes at once."""
    with _ENCODERS_LOCK:
        found = _ENCODERS.get(encoder)
        if found is None:
            found = _ENCODERS[encoder] = BatchingEncoder(encoder)
        return found
