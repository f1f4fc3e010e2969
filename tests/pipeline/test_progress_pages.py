"""What `ragmill ingest`'s bar and `ragmill status` say of scanned pages while OCR runs, from a
run ledger in a real redis-server."""

from __future__ import annotations

import re
import time
import uuid

import pytest
import redis

from pipeline.ingest.progress_bar import duration, ocr_progress
from pipeline.ingest.status import run_record
from tasks.ledger import RunLedger, Snapshot


@pytest.fixture
def ledger(redis_url: str) -> RunLedger:
    ledger = RunLedger(redis.Redis.from_url(redis_url), f"test-{uuid.uuid4().hex[:8]}")
    ledger.start(books_total=1, description="scan.pdf")
    return ledger


def test_status_shows_the_pages_left_with_a_rate_and_an_eta_while_they_are_read(
    ledger: RunLedger,
) -> None:
    pending = f"ragmill:ocr:digest:auto:pending:{ledger.run_id}"
    ledger.queue_pages(pending, range(1, 301), ttl=60)
    for page in range(1, 38):
        ledger.page_read(pending, page)
    # The first page was queued 26.4 s ago: 37 pages at 1.4 pages/s, the 263 left take 3m08s.
    ledger.client.hset(ledger.key, "ocr_started_at", time.time() - 26.4)
    record = run_record(ledger.client, ledger.run_id)
    assert (record["ocr_pages_queued"], record["ocr_pages_read"]) == (300, 37)
    assert re.fullmatch(r"OCR 37/300 pages, 1\.4 pages/s, ETA 3m(0[5-9]|1[0-2])s", record["ocr"])
    ledger.finish()
    assert run_record(ledger.client, ledger.run_id)["ocr"] == ""


def test_the_progress_bar_names_pages_only_while_a_run_has_scans() -> None:
    assert ocr_progress(Snapshot(), 0.0) == ""
    reading = Snapshot(ocr_pages_queued=4, ocr_pages_read=1)
    assert ocr_progress(reading, 0.0) == "OCR 1/4 pages"  # no rate known yet
    assert ocr_progress(reading, 0.5) == "OCR 1/4 pages, 0.5 pages/s, ETA 6s"
    assert ocr_progress(Snapshot(ocr_pages_queued=4, ocr_pages_read=4), 2.0) == (
        "OCR 4 pages read"
    )
    assert [duration(s) for s in (45, 190, 7500)] == ["45s", "3m10s", "2h05m"]
