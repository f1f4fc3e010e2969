"""Work that hangs, injected into real worker processes for the time-limit tests.

A `sitecustomize` module on a worker's PYTHONPATH runs first in every Python process of that
worker: its parent, its prefork children and the io worker's spawned extraction processes. It
wraps two steps so that they never return for marked input, the way a parser stuck in a loop or
an encoder stuck in native code would: `corpus.book.prepare_book` for bytes holding PARSER_MARK,
and `Embedder.encode` for a batch with a text holding EMBED_MARK. The soft time limit's exception
is swallowed, as native code would not see it either; only killing the process ends the hang.
"""

from __future__ import annotations

from pathlib import Path

PARSER_MARK = "HANG-THE-PARSER"
EMBED_MARK = "HANG-THE-EMBEDDER"

HOOK = f'''
import time


def _hang():
    from celery.exceptions import SoftTimeLimitExceeded

    while True:
        try:
            time.sleep(3600)
        except SoftTimeLimitExceeded:
            pass


def _wrap():
    import corpus.book as book
    from tasks.embedding import embedder

    prepare, encode = book.prepare_book, embedder.Embedder.encode

    def hanging_prepare(data, **kwargs):
        if {PARSER_MARK.encode()!r} in data:
            _hang()
        return prepare(data, **kwargs)

    def hanging_encode(self, texts, lengths=None):
        if any({EMBED_MARK!r} in text for text in texts):
            _hang()
        return encode(self, texts, lengths)

    book.prepare_book = hanging_prepare
    embedder.Embedder.encode = hanging_encode


_wrap()
'''


def hanging_env(folder: Path, base: dict[str, str]) -> dict[str, str]:
    """Extra environment for a worker whose processes hang on marked input."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(HOOK)
    return {"PYTHONPATH": f"{folder}:{base['PYTHONPATH']}"}


def marked_book(text: bytes, mark: str) -> bytes:
    """`text` with `mark` in a paragraph near its middle, so one chunk (one batch) holds it."""
    middle = text.index(b"\n\n", len(text) // 2)
    return text[:middle] + f"\n\nA line that says {mark} here.".encode() + text[middle:]
