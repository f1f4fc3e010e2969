"""A model cache of this folder's own, exported once, and real chunks from real books."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.bench.corpus import BenchCorpus
from tasks.settings import Settings
from tests.support.shared import require_gutenberg_books


@pytest.fixture(scope="package")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("embedding-model-cache")
    saved = os.environ.get("RAGMILL_MODEL_CACHE")
    os.environ["RAGMILL_MODEL_CACHE"] = str(cache)
    yield cache
    if saved is None:
        os.environ.pop("RAGMILL_MODEL_CACHE", None)
    else:
        os.environ["RAGMILL_MODEL_CACHE"] = saved


@pytest.fixture(scope="package")
def real_chunks() -> list[str]:
    """40 real chunks from four books, of many lengths, plus two short texts."""
    corpus = BenchCorpus(require_gutenberg_books(), Settings())
    chunks: list[str] = []
    for book in corpus.ids[:4]:
        chunks += corpus.chunk_texts(book, 800)[5:15]
    return [*chunks, "A whale.", "Steam trains."]
