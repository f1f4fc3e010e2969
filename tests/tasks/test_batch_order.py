"""A book's chunks are cut into embed batches of like lengths, except for --contextualize."""

from __future__ import annotations

from corpus.chunking import Chunk
from tasks.fetch import embed_order, split_batches


def chunks_of_lengths(*lengths: int) -> list[Chunk]:
    return [
        Chunk(id=f"b:{i:05d}", book_id="b", position=i, text=f"text {i}", n_tokens=n)
        for i, n in enumerate(lengths)
    ]


def test_batches_are_cut_shortest_first_and_ties_keep_reading_order() -> None:
    chunks = chunks_of_lengths(202, 40, 202, 180, 40, 199)
    batches = split_batches(embed_order(chunks, contextualize=False), 2)
    assert [[c.position for c in batch] for batch in batches] == [[1, 4], [3, 5], [0, 2]]


def test_with_contextualize_batches_keep_reading_order() -> None:
    chunks = chunks_of_lengths(202, 40, 202, 180)
    batches = split_batches(embed_order(chunks, contextualize=True), 2)
    assert [[c.position for c in batch] for batch in batches] == [[0, 1], [2, 3]]
