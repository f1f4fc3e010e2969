"""A book's chunks are cut into embed batches of even size, smaller when an LLM works them, and
finer at the end of the run's last book."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tasks.fetch import (
    CONTEXT_BATCH_CHUNKS,
    FINE_DIVISOR,
    FINE_TAIL_BATCHES,
    batch_limit,
    split_batches,
)
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


@given(st.integers(min_value=0, max_value=5000), st.integers(min_value=1, max_value=600))
def test_a_fine_tail_keeps_order_and_cuts_the_last_chunks_small(count: int, limit: int) -> None:
    chunks = list(range(count))
    batches = split_batches(chunks, limit, fine_tail=True)
    assert [c for batch in batches for c in batch] == chunks
    fine = max(1, limit // FINE_DIVISOR)
    tail = min(count, FINE_TAIL_BATCHES * fine)
    # Walking back from the end, the batches covering the last `tail` chunks are all fine ones.
    covered = 0
    for batch in reversed(batches):
        if covered >= tail:
            assert 0 < len(batch) <= limit
            continue
        assert 0 < len(batch) <= fine
        covered += len(batch)
    assert covered == tail
    assert len(batches) == -(-(count - tail) // limit) + -(-tail // fine)


def test_the_last_book_of_a_run_ends_in_batches_of_a_quarter_of_the_limit() -> None:
    sizes = [len(b) for b in split_batches(list(range(1500)), 256, fine_tail=True)]
    assert sizes == [238, 238] + [64] * 16
    assert [len(b) for b in split_batches(list(range(400)), 256, fine_tail=True)] == [57] * 6 + [
        58
    ]


def test_a_book_just_over_the_limit_is_two_equal_tasks() -> None:
    batches = split_batches(list(range(300)), 256)
    assert [len(b) for b in batches] == [150, 150]


def test_contextualized_runs_cut_smaller_batches_than_plain_ones() -> None:
    settings = Settings.from_env({})
    assert batch_limit(settings, contextualize=False) == settings.batch_chunks == 256
    assert batch_limit(settings, contextualize=True) == CONTEXT_BATCH_CHUNKS == 64
    small = Settings.from_env({"RAGMILL_BATCH_CHUNKS": "16"})
    assert batch_limit(small, contextualize=True) == 16
