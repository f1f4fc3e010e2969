"""A book's chunks are cut into embed batches of even size, smaller when an LLM works them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tasks.fetch import CONTEXT_BATCH_CHUNKS, batch_limit, split_batches
from tasks.settings import Settings


@given(st.integers(min_value=0, max_value=3000), st.integers(min_value=1, max_value=600))
def test_batches_keep_order_respect_the_limit_and_differ_by_one_at_most(
    count: int, limit: int
) -> None:
    chunks = list(range(count))
    batches = split_batches(chunks, limit)
    assert [c for batch in batches for c in batch] == chunks
    assert len(batches) == -(-count // limit)
    sizes = [len(batch) for batch in batches]
    assert all(0 < size <= limit for size in sizes)
    assert not sizes or max(sizes) - min(sizes) <= 1


def test_a_book_just_over_the_limit_is_two_equal_tasks() -> None:
    batches = split_batches(list(range(300)), 256)
    assert [len(b) for b in batches] == [150, 150]


def test_contextualized_runs_cut_smaller_batches_than_plain_ones() -> None:
    settings = Settings.from_env({})
    assert batch_limit(settings, contextualize=False) == settings.batch_chunks == 256
    assert batch_limit(settings, contextualize=True) == CONTEXT_BATCH_CHUNKS == 64
    small = Settings.from_env({"RAGMILL_BATCH_CHUNKS": "16"})
    assert batch_limit(small, contextualize=True) == 16
