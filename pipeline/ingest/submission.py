"""Submits an ingest run to a cluster with backpressure and follows it to the end.

Redis holds a bounded amount of queued work however many books are asked for: a book is submitted
only while fewer than `books_in_flight` books are between submission and landing, and fewer than
`chunks_in_flight` chunks wait in Redis, counting each book not yet fetched at the average size of
the books fetched so far. Local files are read only when their turn comes.

A run heals itself: when its counters stop moving for a stall period (`stall_seconds`, a third
of the visibility timeout and at most a minute) while books are outstanding, and the broker holds
none of its messages (queued, or taken by a live worker), a message was lost (a Redis restart
between kombu's pop and its unacked record, celery/kombu#305) or its worker vanished. The fetch
of every unfinished source is sent again: ids are deterministic, upserts idempotent and the
ledger counts once, so a fetch that already ended re-sends only its missing batches. After
RESEND_ROUNDS re-sends without progress the unfinished sources fail with one line each.

A run whose messages wait in a queue no worker reads is not lost work: it keeps waiting, and
`unread` (unread_queues.py) names the queue and the command that starts a worker for it.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from corpus.catalog import parse_catalog, select_books
from corpus.download import DownloadConfig, Downloader, fetch_catalog
from corpus.errors import CorpusError
from corpus.sources import Source, read_local_file, resolve
from pipeline.ingest.progress_bar import Report
from pipeline.ingest.unread_queues import UnreadQueues
from pipeline.stack.broker import lost_broker
from tasks import queues
from tasks.celery_config import stall_seconds
from tasks.ledger import RunLedger, Snapshot
from tasks.messages import (
    TASK_NAMES,
    BookOptions,
    FetchBook,
    GutenbergEdition,
    SourceRef,
    send_options,
)
from tasks.settings import Settings

POLL_SECONDS = 0.25
# Re-sends in a row, each a stall period apart, before the unfinished sources fail.
RESEND_ROUNDS = 3
# How many messages of each queue are searched for the run's own (the oldest are at the end).
QUEUE_SCAN = 10_000
# What a lost Redis raises in the client once its retries are spent.
BROKER_ERRORS = (redis.ConnectionError, redis.TimeoutError, OperationalError)
CATALOG_PATH = "cache/epub/feeds/pg_catalog.csv"


@dataclass(frozen=True, kw_only=True)
class CatalogChoice:
    """Books picked from a Gutenberg catalog (`location` None: the mirror's own)."""

    location: str | None
    language: str | None
    limit: int | None


@dataclass(frozen=True)
class Plan:
    """The sources of a run, the inputs that could not become sources, and the files of its
    folders that are not documents (skipped, not failed)."""

    sources: list[Source]
    errors: list[tuple[str, str]]
    skipped: list[str] = field(default_factory=list)


def plan_sources(inputs: list[str], catalog: CatalogChoice | None, settings: Settings) -> Plan:
    """Resolve ids, paths, folders and URLs, plus catalog picks, into one deduplicated list."""
    resolution = resolve(inputs)
    sources, errors = resolution.sources, resolution.errors
    if catalog is not None:
        location = catalog.location or f"{settings.mirror.rstrip('/')}/{CATALOG_PATH}"
        downloader = Downloader(
            DownloadConfig(cache_dir=settings.cache_dir, mirror=settings.mirror)
        )
        try:
            text = fetch_catalog(location, downloader)
        except CorpusError as exc:
            errors.append((location, str(exc)))
        else:
            picked = select_books(
                parse_catalog(text), language=catalog.language, limit=catalog.limit
            )
            if not picked:
                errors.append((location, f"{location}: no books match the catalog filters"))
            seen = {s.ref for s in sources if s.kind == "gutenberg"}
            sources += [Source("gutenberg", b, b) for b in picked if b not in seen]
    return Plan(sources, errors, resolution.skipped)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


class Submission:
    """One ingest run: submits fetch tasks as capacity frees up and reads progress back."""

    def __init__(
        self,
        app: Celery,
        client: redis.Redis,
        settings: Settings,
        plan: Plan,
        *,
        fail_fast: bool = False,
        run_id: str | None = None,
        contextualize: bool = False,
        unread: UnreadQueues | None = None,
    ) -> None:
        self.app = app
        self.unread = unread
        self.settings = settings
        self.plan = plan
        self.fail_fast = fail_fast
        self.ledger = RunLedger(client, run_id or new_run_id())
        self.options = BookOptions(
            mirror=settings.mirror,
            chunk_tokens=settings.chunk_tokens,
            chunk_overlap=settings.chunk_overlap,
            collection=settings.collection,
            contextualize=contextualize,
            # Settings.validated() has checked it is one of the editions.
            gutenberg_edition=cast(GutenbergEdition, settings.gutenberg_edition),
        )
        self.pending: deque[Source] = deque(plan.sources)
        self.fetches: dict[str, Source] = {}
        self.submitted = 0
        self.failed_here = 0
        self.stall = Stall(stall_seconds(settings))

    @property
    def run_id(self) -> str:
        return self.ledger.run_id

    def run(self, on_progress: Callable[[Snapshot], None] = lambda s: None) -> Report:
        """Submit everything and wait until every book has landed or failed.

        KeyboardInterrupt is turned into an interrupted report; what was stored stays stored.
        """
        started = time.monotonic()
        description = " ".join(s.label for s in self.plan.sources[:5])
        self.ledger.start(
            books_total=len(self.plan.sources) + len(self.plan.errors), description=description
        )
        for label, message in self.plan.errors:
            self._fail_here(label, message)
        interrupted = stopped = False
        try:
            while True:
                snapshot = self.ledger.snapshot()
                self._top_up(snapshot)
                snapshot = self.ledger.snapshot()
                on_progress(snapshot)
                if snapshot.complete and not self.pending:
                    break
                if self.fail_fast and snapshot.books_failed:
                    stopped = True
                    break
                if self.unread is not None:
                    self.unread.watch(progress(snapshot, self.submitted), time.monotonic())
                self._heal(snapshot)
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            interrupted = True
        except BROKER_ERRORS as exc:
            # The client's Redis calls and publishes already retried for about a minute.
            raise lost_broker(self._redis_address(), self.run_id) from exc
        if interrupted or stopped:
            # Workers drop the run's queued tasks; the same command run again does the rest.
            self.ledger.cancel()
        self.ledger.finish()
        return Report(
            snapshot=self.ledger.snapshot(),
            seconds=time.monotonic() - started,
            failures=self.ledger.failures(),
            warnings=self.ledger.warnings(),
            interrupted=interrupted,
            resent=self.stall.resent,
        )

    def _top_up(self, snapshot: Snapshot) -> None:
        room = Room.of(snapshot, self.submitted, self.failed_here, self.settings)
        while self.pending and room.has_space():
            source = self.pending.popleft()
            try:
                self._send_fetch(source)
            except CorpusError as exc:
                self._fail_here(source.label, str(exc))
                continue
            self.fetches[source.label] = source
            self.submitted += 1
            room.add_book()
            self.ledger.count_submitted()

    def _send_fetch(self, source: Source) -> None:
        """Send `source`'s fetch (again); raises CorpusError for a file that cannot be read."""
        data = self._read_file(source) if source.kind == "file" else None
        message = FetchBook(
            run_id=self.run_id,
            source=SourceRef(kind=source.kind, ref=source.ref, label=source.label),
            options=self.options,
            data=data,
        )
        self.app.send_task(TASK_NAMES[FetchBook], **send_options(message))

    def _heal(self, snapshot: Snapshot) -> None:
        """Re-send the fetches of unfinished sources once the run has stalled (module docstring)."""
        now = time.monotonic()
        if not self.stall.stalled(progress(snapshot, self.submitted), now):
            return
        unfinished = self.ledger.unfinished(self.fetches)
        if not unfinished or self._in_broker():
            # Nothing known missing, or its work is queued or running: waiting, not lost.
            self.stall.waited(now)
            return
        if self.stall.rounds >= RESEND_ROUNDS:
            reason = self.stall.give_up_reason()
            for label, book in unfinished.items():
                self.ledger.fail(label, f"{label}: {reason}", book)
            return
        for label in unfinished:
            try:
                self._send_fetch(self.fetches[label])
            except CorpusError as exc:
                self.ledger.fail(label, str(exc), unfinished[label])
        self.stall.resend(len(unfinished), now)

    def _in_broker(self) -> bool:
        """True if a message of this run waits in a queue or is held by a live worker."""
        # A queued message names the run in its headers (kwargsrepr); a held one in its kwargs.
        marker = self.run_id.encode()
        client = self.ledger.client
        for queue in queues.ALL:
            items = cast(list[bytes], client.lrange(queue, 0, QUEUE_SCAN - 1))
            if any(marker in item for item in items):
                return True
        inspect = self.app.control.inspect(timeout=1.0)
        held = [inspect.active(), inspect.reserved(), inspect.scheduled()]
        return self.run_id in repr(held)

    def _redis_address(self) -> str:
        kwargs = self.ledger.client.get_connection_kwargs()
        return f"redis://{kwargs.get('host')}:{kwargs.get('port')}/{kwargs.get('db', 0)}"

    def _read_file(self, source: Source) -> bytes:
        """The file's raw bytes: a worker detects the format and extracts the text.

        Files are read here, not by a worker, because workers may run on other machines.
        """
        return read_local_file(Path(source.ref), self.settings.max_book_bytes)

    def _fail_here(self, label: str, message: str) -> None:
        if self.ledger.fail(label, message):
            self.failed_here += 1


def progress(snapshot: Snapshot, submitted: int) -> tuple[object, ...]:
    """What changes whenever any work of the run moves."""
    return (submitted, *(getattr(snapshot, f) for f in PROGRESS_FIELDS))


PROGRESS_FIELDS = (
    "books_done", "books_failed", "books_fetched", "chunks_known", "chunks_stored",
    "batches_done", "contexts_done", "contexts_failed", "embed_requests", "ocr_pages_queued",
    "ocr_pages_read",
)


@dataclass
class Stall:
    """When the run last moved, and the re-sends made since (module docstring)."""

    seconds: float
    last: tuple[object, ...] = ()
    moved_at: float = field(default_factory=time.monotonic)
    rounds: int = 0
    resent: int = 0

    def stalled(self, state: tuple[object, ...], now: float) -> bool:
        """True once `state` has not changed for `seconds`; a change starts the count again."""
        if state != self.last:
            self.last, self.moved_at, self.rounds = state, now, 0
            return False
        return now - self.moved_at >= self.seconds

    def waited(self, now: float) -> None:
        self.moved_at = now

    def resend(self, fetches: int, now: float) -> None:
        self.rounds += 1
        self.resent += fetches
        self.moved_at = now

    def give_up_reason(self) -> str:
        return (
            f"no progress for {self.seconds:.0f} s after {self.rounds} re-sends of its missing "
            "work; check that io and embed workers are running (ragmill status), then run the "
            "same command again"
        )


@dataclass
class Room:
    """What the cluster holds of a run right now, and whether another book may be submitted."""

    books: int  # submitted, not yet landed or failed
    unfetched: int  # submitted, fetch not yet ended: their chunk counts are still unknown
    chunks_queued: int
    chunks_per_book: float  # what a book not yet fetched is expected to bring
    max_books: int
    max_chunks: int

    @classmethod
    def of(cls, snapshot: Snapshot, submitted: int, failed_here: int, settings: Settings) -> Room:
        # Sources that failed in the client count as finished and fetched in the ledger, but
        # were never submitted.
        fetched = snapshot.books_fetched - failed_here
        with_work = snapshot.chunks_known - snapshot.chunks_skipped
        per_book = (
            with_work / fetched
            if fetched > 0
            else settings.chunks_in_flight / settings.books_in_flight
        )
        return cls(
            books=submitted - (snapshot.books_finished - failed_here),
            unfetched=max(0, submitted - fetched),
            chunks_queued=snapshot.chunks_queued,
            chunks_per_book=per_book,
            max_books=settings.books_in_flight,
            max_chunks=settings.chunks_in_flight,
        )

    def has_space(self) -> bool:
        if self.books <= 0:
            # Nothing in flight: always go on, so a miscount can slow a run but never stall it.
            return True
        expected = self.chunks_queued + self.unfetched * self.chunks_per_book
        return self.books < self.max_books and expected < self.max_chunks

    def add_book(self) -> None:
        self.books += 1
        self.unfetched += 1
