"""Where the real Gutenberg books beside the repository are, and a skip where they are not.

CI keeps a folder `shared/` beside the repository, holding 50 real Gutenberg books in
`shared/corpus/gutenberg/` (with their `catalog.csv`); a fresh clone has no such folder. Every test
that reads those books finds them through this module, so each one skips (or falls back to the
synthetic books) in the same way. RAGMILL_SHARED_DIR names another folder instead; pointing it at
one that does not exist shows what a fresh clone runs.
"""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path

import pytest

from tests.support.mirror import Mirror, publish_synthetic_books

ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR_VARIABLE = "RAGMILL_SHARED_DIR"
# Set by tests/test_bare_clone.py in its child run: keep only the tests that read the real books.
ONLY_READERS_VARIABLE = "RAGMILL_ONLY_TESTS_READING_SHARED"
# The names through which a test reads the real books and skips without them (directly, through
# tests/support/chunks.py, or through the embedding tests' `real_chunks` fixture).
READS_SHARED = re.compile(
    r"\b(require_gutenberg_books|shared_books|real_book_chunks|real_chunks)\b"
)


def shared_dir() -> Path:
    """The shared folder: RAGMILL_SHARED_DIR, else `shared/` beside the repository."""
    override = os.environ.get(SHARED_DIR_VARIABLE)
    return Path(override) if override else ROOT.parent / "shared"


def gutenberg_dir() -> Path:
    """Where the real books (`pg<id>.txt` and `catalog.csv`) are, if they are anywhere."""
    return shared_dir() / "corpus" / "gutenberg"


def require_gutenberg_books() -> Path:
    """The folder of real books; skips the calling test or fixture where it is absent."""
    folder = gutenberg_dir()
    if not (folder / "catalog.csv").is_file():
        pytest.skip(
            f"real Gutenberg books not found at {folder} "
            f"(put shared/ beside the repository or set {SHARED_DIR_VARIABLE})"
        )
    return folder


def publish_real_or_synthetic(mirror: Mirror, wanted: list[str]) -> list[str]:
    """Put the real books `wanted` on the mirror; where any is absent, the synthetic ones.

    Returns the ids of the books the mirror now serves.
    """
    folder = gutenberg_dir()
    if not all((folder / f"pg{book}.txt").is_file() for book in wanted):
        return sorted(publish_synthetic_books(mirror))
    for book in wanted:
        mirror.put(f"cache/epub/{book}/pg{book}.txt", (folder / f"pg{book}.txt").read_bytes())
    return list(wanted)


def reads_shared(item: pytest.Item) -> bool:
    """Whether the test `item`, a fixture it uses, or a function of its module that either
    calls, names one of READS_SHARED."""
    functions = [getattr(item, "function", None)]
    info = getattr(item, "_fixtureinfo", None)
    for definitions in (info.name2fixturedefs.values() if info else ()):
        functions += [definition.func for definition in definitions]
    module = getattr(item, "module", None)
    sources = [_source(f) for f in functions]
    helpers = {name for text in sources for name in re.findall(r"\b(\w+)\(", text)}
    sources += [_source(getattr(module, name, None)) for name in helpers]
    return any(READS_SHARED.search(text) for text in sources)


def _source(function: object) -> str:
    if not inspect.isfunction(function):
        return ""
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return ""
