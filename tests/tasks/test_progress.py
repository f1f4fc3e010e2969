"""The run ledger counts every book and batch exactly once, in a real redis-server."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from tasks.ledger import RUN_TTL, RUNS_KEY, RunLedger, forget_expired_runs, recent_runs


@pytest.fixture
def ledger(redis_url: str) -> RunLedger:
    ledger = RunLedger(redis.Redis.from_url(redis_url), f"test-{uuid.uuid4().hex[:8]}")
    ledger.start(books_total=2, description="a b")
    return ledger


def test_a_book_completes_when_its_last_batch_is_stored(ledger: RunLedger) -> None:
    outcome = ledger.register_book(
        "84", "84", chunks_total=10, already_stored=2, batches={0: 5, 1: 3}, stale_ids=[]
    )
    assert outcome == 1
    assert ledger.complete_batch("84", 0) == 0
    assert ledger.snapshot().books_done == 0
    assert ledger.complete_batch("84", 1) == 1
    s = ledger.snapshot()
    assert (s.books_done, s.chunks_known, s.chunks_stored, s.chunks_skipped) == (1, 10, 10, 2)


def test_a_redelivered_batch_is_not_counted_twice(ledger: RunLedger) -> None:
    ledger.register_book("84", "84", chunks_total=4, already_stored=0, batches={0: 2, 1: 2},
                         stale_ids=[])
    assert ledger.complete_batch("84", 0) == 0
    assert ledger.complete_batch("84", 0) == -1
    assert ledger.snapshot().chunks_stored == 2
    assert ledger.snapshot().batches_done == 1


def test_a_retried_fetch_is_not_counted_again_and_sees_pending_batches(ledger: RunLedger) -> None:
    args = {"chunks_total": 6, "already_stored": 0, "batches": {0: 3, 1: 3}, "stale_ids": []}
    assert ledger.register_book("84", "84", **args) == 1
    ledger.complete_batch("84", 0)
    assert ledger.register_book("84", "84", **args) == 0
    assert ledger.pending_batches("84") == {1}
    assert ledger.snapshot().chunks_known == 6


def test_the_same_book_from_a_second_source_is_refused(ledger: RunLedger) -> None:
    args = {"chunks_total": 1, "already_stored": 0, "batches": {0: 1}, "stale_ids": []}
    assert ledger.register_book("84", "84", **args) == 1
    assert ledger.register_book("84", "./frankenstein.txt", **args) == -1


def test_a_book_with_everything_stored_is_done_at_once(ledger: RunLedger) -> None:
    outcome = ledger.register_book(
        "11", "11", chunks_total=7, already_stored=7, batches={}, stale_ids=["11:00009:abc"]
    )
    assert outcome == 2
    assert ledger.snapshot().books_done == 1
    assert ledger.take_stale("11") == ["11:00009:abc"]
    assert ledger.take_stale("11") == []


def test_a_failure_is_recorded_once_and_stops_its_book(ledger: RunLedger) -> None:
    ledger.register_book("84", "84", chunks_total=4, already_stored=0, batches={0: 2, 1: 2},
                         stale_ids=[])
    assert ledger.fail("84", "84: batch 0 could not be stored", "84") is True
    assert ledger.fail("84", "84: batch 1 could not be stored", "84") is False
    assert ledger.complete_batch("84", 1) == -1
    s = ledger.snapshot()
    assert (s.books_failed, s.books_done) == (1, 0)
    assert ledger.failures() == {"84": "84: batch 0 could not be stored"}


def test_a_run_is_complete_when_every_book_landed_or_failed(ledger: RunLedger) -> None:
    ledger.register_book("1", "1", chunks_total=1, already_stored=1, batches={}, stale_ids=[])
    assert not ledger.snapshot().complete
    ledger.fail("nope", "nope: not a Gutenberg id")
    assert ledger.snapshot().complete


def test_runs_are_listed_newest_first(ledger: RunLedger) -> None:
    later = RunLedger(ledger.client, ledger.run_id + "-later")
    later.start(books_total=1, description="later")
    runs = recent_runs(ledger.client)
    assert runs.index(later.run_id) < runs.index(ledger.run_id)


def test_a_run_whose_record_expired_is_not_listed_and_is_forgotten(ledger: RunLedger) -> None:
    client = ledger.client
    # A run started more than RUN_TTL ago whose record has expired, as Redis leaves it.
    old = RunLedger(client, ledger.run_id + "-old")
    old.start(books_total=1, description="old")
    client.delete(old.key)
    client.zadd(RUNS_KEY, {old.run_id: time.time() - RUN_TTL - 60})
    assert old.run_id not in recent_runs(client, limit=1000)
    # Starting a run forgets it; a live run started as long ago is kept.
    kept = RunLedger(client, ledger.run_id + "-kept")
    kept.start(books_total=1, description="kept")
    client.zadd(RUNS_KEY, {kept.run_id: time.time() - RUN_TTL - 60})
    RunLedger(client, ledger.run_id + "-new").start(books_total=1, description="new")
    members = {m.decode() for m in client.zrange(RUNS_KEY, 0, -1)}
    assert old.run_id not in members and kept.run_id in members
    assert forget_expired_runs(client) == 0


def test_the_chunks_waiting_in_redis_are_known_minus_stored_minus_given_up(
    ledger: RunLedger,
) -> None:
    ledger.register_book("84", "84", chunks_total=10, already_stored=2, batches={0: 5, 1: 3},
                         stale_ids=[])
    ledger.register_book("11", "11", chunks_total=4, already_stored=0, batches={0: 4},
                         stale_ids=[])
    assert ledger.snapshot().chunks_queued == 12
    ledger.complete_batch("84", 0)
    assert ledger.snapshot().chunks_queued == 7
    # Book 11 fails in its embed stage: its 4 queued chunks will never be stored.
    assert ledger.fail("11", "11: batch 0 could not be stored", "11")
    s = ledger.snapshot()
    assert (s.chunks_dropped, s.chunks_queued) == (4, 3)


def test_every_ended_fetch_is_counted_once(ledger: RunLedger) -> None:
    args = {"chunks_total": 2, "already_stored": 0, "batches": {0: 2}, "stale_ids": []}
    ledger.register_book("84", "84", **args)
    ledger.register_book("84", "84", **args)  # the same fetch redelivered
    ledger.register_book("84", "./pg84.txt", **args)  # a duplicate source
    ledger.fail("404", "404: not on the mirror")  # failed before any chunk was queued
    ledger.fail("404", "404: not on the mirror")
    assert ledger.snapshot().books_fetched == 3


def test_only_the_last_source_to_be_cut_gets_a_fine_tail_and_keeps_it_when_retried(
    redis_url: str,
) -> None:
    ledger = RunLedger(redis.Redis.from_url(redis_url), f"test-{uuid.uuid4().hex[:8]}")
    ledger.start(books_total=4, description="four sources")
    ledger.fail("missing.txt", "missing.txt: no such file")
    assert not ledger.last_to_cut("84")
    assert not ledger.last_to_cut("11")
    assert ledger.last_to_cut("1342")
    # A retried fetch cuts its book as the first attempt did.
    assert not ledger.last_to_cut("84")
    assert ledger.last_to_cut("1342")


def test_without_a_known_total_no_book_gets_a_fine_tail(redis_url: str) -> None:
    ledger = RunLedger(redis.Redis.from_url(redis_url), f"test-{uuid.uuid4().hex[:8]}")
    assert not ledger.last_to_cut("84")


def test_a_duplicate_source_sent_again_is_counted_fetched_and_done_once(ledger: RunLedger) -> None:
    args = {"chunks_total": 2, "already_stored": 0, "batches": {0: 2}, "stale_ids": []}
    ledger.register_book("84", "84", **args)
    for _ in range(3):  # the duplicate's fetch redelivered, then re-sent by a stalled run
        assert ledger.register_book("84", "./pg84.epub", **args) == -1
    s = ledger.snapshot()
    assert (s.books_fetched, s.books_done) == (2, 1)


def test_a_second_source_of_a_book_never_marks_the_first_sources_chunks_stale(
    ledger: RunLedger,
) -> None:
    # The text edition claims book 84 and stores batch 0; the EPUB edition, chunked otherwise,
    # registers while the text is part-way through: from its view the text's fresh chunks are
    # "stored but not mine". Before, those ids went into the stale set ahead of the DUPLICATE
    # decision and were deleted when the text edition's last batch landed.
    text_chunks = ["84:00000:aaa", "84:00001:bbb"]
    ledger.register_book("84", "84", chunks_total=2, already_stored=0,
                         batches={0: 1, 1: 1}, stale_ids=[])
    ledger.complete_batch("84", 0)
    assert ledger.register_book("84", "./pg84.epub", chunks_total=3, already_stored=0,
                                batches={0: 3}, stale_ids=text_chunks) == -1
    assert ledger.complete_batch("84", 1) == 1
    assert ledger.take_stale("84") == []


def test_the_claiming_source_still_marks_what_its_book_no_longer_has(ledger: RunLedger) -> None:
    ledger.register_book("84", "84", chunks_total=1, already_stored=0, batches={0: 1},
                         stale_ids=["84:00009:old"])
    assert ledger.complete_batch("84", 0) == 1
    assert ledger.take_stale("84") == ["84:00009:old"]


def test_unfinished_sources_are_the_unfetched_and_the_books_with_batches_missing(
    ledger: RunLedger,
) -> None:
    args = {"chunks_total": 2, "already_stored": 0, "batches": {0: 1, 1: 1}, "stale_ids": []}
    ledger.register_book("84", "84", **args)  # one batch stored, one missing
    ledger.complete_batch("84", 0)
    ledger.register_book("11", "11", **args)  # landed
    ledger.complete_batch("11", 0)
    ledger.complete_batch("11", 1)
    ledger.register_book("84", "./pg84.epub", **args)  # a duplicate: done
    ledger.fail("404", "404: not on the mirror")  # failed
    labels = ["84", "11", "./pg84.epub", "404", "1342"]  # 1342: its fetch never ended
    assert ledger.unfinished(labels) == {"84": "84", "1342": None}
    ledger.complete_batch("84", 1)
    assert ledger.unfinished(labels) == {"1342": None}


def test_scanned_pages_are_counted_once_however_often_their_tasks_are_delivered(
    ledger: RunLedger,
) -> None:
    pending = f"ragmill:ocr:digest:auto:pending:{ledger.run_id}"
    assert ledger.queue_pages(pending, [1, 2, 3], ttl=60) == 3
    # The fetch delivered again re-sends the pages not read yet: they are counted already.
    assert ledger.queue_pages(pending, [1, 2, 3], ttl=60) == 0
    assert ledger.page_read(pending, 2) == (True, 2)
    assert ledger.page_read(pending, 2) == (False, 2)  # the page task delivered again
    s = ledger.snapshot()
    assert (s.ocr_pages_queued, s.ocr_pages_read, s.ocr_pages_left) == (3, 1, 2)
    assert s.ocr_started_at > 0
    assert ledger.page_read(pending, 1) == (True, 1)
    assert ledger.page_read(pending, 3) == (True, 0)  # the last: its task sends the fetch
    assert ledger.snapshot().ocr_pages_left == 0

