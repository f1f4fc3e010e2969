"""The installed `ragmill` console script, run as a user runs it."""

from __future__ import annotations

import sys
from pathlib import Path

RAGMILL = str(Path(sys.executable).parent / "ragmill")


def ingest_argv(collection: str, *args: str) -> list[str]:
    """`ragmill ingest` into `collection` with a JSON summary and no live progress, then `args`."""
    return [RAGMILL, "ingest", "--json", "--no-progress", "--collection", collection, *args]
