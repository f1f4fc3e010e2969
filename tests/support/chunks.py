"""Real chunks of real books, cut as a worker cuts them, for tests of what encodes them."""

from __future__ import annotations

from pipeline.bench.corpus import BenchCorpus
from tasks.settings import Settings
from tests.support.shared import require_gutenberg_books

# A book's opening lines are enough for a few dozen chunks and much quicker to chunk than a book;
# its first chunks are title pages and contents, so they are passed over.
OPENING_LINES = 800
FIRST_CHUNK = 5


def real_book_chunks(books: int, per_book: int) -> list[str]:
    """`per_book` chunks from each of the first `books` real books, of many lengths.

    Skips the calling test or fixture where the real books are absent.
    """
    corpus = BenchCorpus(require_gutenberg_books(), Settings())
    chunks: list[str] = []
    for book in corpus.ids[:books]:
        chunks += corpus.chunk_texts(book, OPENING_LINES)[FIRST_CHUNK : FIRST_CHUNK + per_book]
    return chunks
