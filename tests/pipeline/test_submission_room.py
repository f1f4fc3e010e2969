"""When the client may submit another book: the book cap, the chunk budget, and never a stall."""

from __future__ import annotations

from pipeline.ingest.submission import Room
from tasks.ledger import Snapshot
from tasks.settings import Settings

SETTINGS = Settings(books_in_flight=4, chunks_in_flight=100)


def submit_all(room: Room, pending: int) -> int:
    """How many of `pending` books one top-up round submits."""
    sent = 0
    while sent < pending and room.has_space():
        room.add_book()
        sent += 1
    return sent


def test_before_any_book_is_fetched_the_book_cap_decides() -> None:
    room = Room.of(Snapshot(), submitted=0, failed_here=0, settings=SETTINGS)
    assert submit_all(room, 10) == 4


def test_a_full_chunk_budget_holds_back_a_free_book_slot() -> None:
    # Two books fetched with 60 chunks each, nothing stored yet: 120 chunks wait in Redis.
    snapshot = Snapshot(books_fetched=2, chunks_known=120)
    room = Room.of(snapshot, submitted=2, failed_here=0, settings=SETTINGS)
    assert room.books == 2 and room.chunks_queued == 120
    assert submit_all(room, 10) == 0


def test_books_not_yet_fetched_count_at_the_average_size_so_far() -> None:
    # 40 of 120 chunks wait; each book brought 60, so one more book (100) fills the budget.
    snapshot = Snapshot(books_fetched=2, books_done=1, chunks_known=120, chunks_stored=80)
    room = Room.of(snapshot, submitted=2, failed_here=0, settings=SETTINGS)
    assert submit_all(room, 10) == 1


def test_chunks_already_stored_do_not_count_towards_the_average() -> None:
    # A re-ingest: every chunk was stored before, so books bring no work and the cap decides.
    snapshot = Snapshot(books_fetched=2, books_done=2, chunks_known=500, chunks_stored=500,
                        chunks_skipped=500)
    room = Room.of(snapshot, submitted=2, failed_here=0, settings=SETTINGS)
    assert submit_all(room, 10) == 4


def test_a_failed_book_gives_its_queued_chunks_back() -> None:
    snapshot = Snapshot(books_fetched=2, books_failed=1, chunks_known=120, chunks_dropped=60)
    room = Room.of(snapshot, submitted=2, failed_here=0, settings=SETTINGS)
    assert room.chunks_queued == 60
    # Without the 60 given back, 120 would wait and nothing could go.
    assert submit_all(room, 10) == 1


def test_with_nothing_in_flight_a_book_always_goes_whatever_the_counts_say() -> None:
    # A miscount (chunks never given back) must slow a run, not stall it.
    snapshot = Snapshot(books_fetched=1, books_failed=1, chunks_known=5000)
    room = Room.of(snapshot, submitted=1, failed_here=0, settings=SETTINGS)
    assert room.books == 0
    assert submit_all(room, 10) == 1


def test_sources_that_failed_in_the_client_are_not_in_flight() -> None:
    # Two unreadable files failed here: counted finished and fetched, never submitted.
    snapshot = Snapshot(books_failed=2, books_fetched=2)
    room = Room.of(snapshot, submitted=0, failed_here=2, settings=SETTINGS)
    assert (room.books, room.unfetched) == (0, 0)
    assert submit_all(room, 10) == 4
