"""Per-run progress ledger in Redis, written by workers and read by the CLI.

Every counter change goes through a Lua script, so a task that Celery redelivers (acks_late after
a killed worker) is counted once. Key layout, all under ``ragmill:run:<run>``:

    ragmill:run:<run>                      hash   counters (see COUNTERS) and run facts
    ragmill:run:<run>:books                hash   book id -> label of the source that claimed it
    ragmill:run:<run>:fetched              hash   source label -> book id, once its fetch ended
    ragmill:run:<run>:failures             hash   source label -> one-line reason
    ragmill:run:<run>:warnings             list   one-line warnings, in arrival order
    ragmill:run:<run>:pending:<book>       hash   embed batch index -> chunks in that batch
    ragmill:run:<run>:cuts                 hash   source label -> 1 if its book ends in fine batches
    ragmill:run:<run>:stale:<book>         set    chunk ids to delete once the book has landed
    ragmill:run:<run>:nodes                hash   worker node name -> embed batches it stored
    ragmill:run:<run>:contexts             hash   chunk id -> LLM-written context (--contextualize)
    ragmill:run:<run>:context_failures     hash   chunk id -> why its context could not be written
    ragmill:runs                           zset   run id -> start time, for `ragmill status`

`books_fetched` counts submitted books whose fetch has ended (registered, a duplicate, or failed
before any chunk was queued) and `chunks_dropped` the queued chunks of books that failed later, so
the client can tell how many chunks wait in Redis: known - stored - dropped.

With --contextualize, `contexts_wanted` counts chunks sent to the LLM stage, `contexts_done` those
that got a context and `contexts_failed` those embedded without one.

With EMBED_BACKEND=openai, `embed_requests` and `embed_tokens` count the requests sent to the
embeddings endpoint and the tokens it counted (the limit they ran against is the endpoint's).

Scanned pages: `ocr_pages_queued` counts the pages the run sent to OCR, `ocr_pages_read` those
read (or given up) so far, and `ocr_started_at` is when the first was queued. A page is counted
queued when it joins the set of pages its document's fetch waits for (tasks/ocr.py,
`ragmill:ocr:<digest>:<language>:pending:<run>`) and read when it leaves it, so a fetch or page
task delivered again counts nothing twice.

Run keys expire after RUN_TTL seconds so Redis does not grow with the number of runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any, cast

import redis

from tasks.ledger_scripts import (
    COMPLETE_BATCH,
    DECIDE_CUT,
    FAIL_SOURCE,
    QUEUE_PAGES,
    READ_PAGE,
    RECORD_CONTEXT,
    REGISTER_BOOK,
)

PREFIX = "ragmill:run"
RUNS_KEY = "ragmill:runs"
RUN_TTL = 7 * 24 * 3600

COUNTERS = (
    "books_total",
    "books_submitted",
    "books_done",
    "books_failed",
    "books_fetched",
    "chunks_known",
    "chunks_dropped",
    "chunks_stored",
    "chunks_skipped",
    "batches_done",
    "contexts_wanted",
    "contexts_done",
    "contexts_failed",
    "embed_requests",
    "embed_tokens",
    "ocr_pages_queued",
    "ocr_pages_read",
)

class Registration(IntEnum):
    """What REGISTER_BOOK did with a book (the script's return values)."""

    DUPLICATE = -1  # another source of this run already claimed the same book
    RETRY = 0  # the same source is retrying its fetch; nothing was counted again
    REGISTERED = 1  # claimed, with batches to embed
    ALREADY_COMPLETE = 2  # claimed, and every chunk was already stored


class BatchOutcome(IntEnum):
    """What COMPLETE_BATCH did with a stored batch (the script's return values)."""

    REDELIVERED = -1  # already counted: a redelivered task stored it again
    COUNTED = 0
    BOOK_COMPLETE = 1  # counted, and it was the book's last batch


@dataclass(frozen=True)
class Snapshot:
    """One reading of a run's counters."""

    books_total: int = 0
    books_submitted: int = 0
    books_done: int = 0
    books_failed: int = 0
    books_fetched: int = 0
    chunks_known: int = 0
    chunks_dropped: int = 0
    chunks_stored: int = 0
    chunks_skipped: int = 0
    batches_done: int = 0
    contexts_wanted: int = 0
    contexts_done: int = 0
    contexts_failed: int = 0
    embed_requests: int = 0
    embed_tokens: int = 0
    ocr_pages_queued: int = 0
    ocr_pages_read: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0
    cancelled_at: float = 0.0
    ocr_started_at: float = 0.0

    @property
    def books_finished(self) -> int:
        """Books that will not change any more: landed or failed."""
        return self.books_done + self.books_failed

    @property
    def chunks_queued(self) -> int:
        """Chunks registered but neither stored nor given up: what waits in Redis."""
        return max(0, self.chunks_known - self.chunks_stored - self.chunks_dropped)

    @property
    def ocr_pages_left(self) -> int:
        """Scanned pages sent to OCR and not read yet."""
        return max(0, self.ocr_pages_queued - self.ocr_pages_read)

    @property
    def complete(self) -> bool:
        """True once every book of the run has landed or failed."""
        return self.books_total > 0 and self.books_finished >= self.books_total


class RunLedger:
    """Reads and writes the progress of one ingest run (key layout in the module docstring)."""

    def __init__(self, client: redis.Redis, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self.key = f"{PREFIX}:{run_id}"
        self._register = client.register_script(REGISTER_BOOK)
        self._complete = client.register_script(COMPLETE_BATCH)
        self._fail = client.register_script(FAIL_SOURCE)
        self._record_context = client.register_script(RECORD_CONTEXT)
        self._decide_cut = client.register_script(DECIDE_CUT)
        self._queue_pages = client.register_script(QUEUE_PAGES)
        self._read_page = client.register_script(READ_PAGE)

    def pending_key(self, book_id: str) -> str:
        return f"{self.key}:pending:{book_id}"

    def stale_key(self, book_id: str) -> str:
        return f"{self.key}:stale:{book_id}"

    def start(self, *, books_total: int, description: str) -> None:
        """Create the run record; called once by the CLI before any book is submitted."""
        now = time.time()
        pipe = self.client.pipeline()
        pipe.hset(
            self.key,
            mapping={"books_total": books_total, "started_at": now, "description": description},
        )
        pipe.expire(self.key, RUN_TTL)
        pipe.zadd(RUNS_KEY, {self.run_id: now})
        pipe.execute()
        forget_expired_runs(self.client, before=now - RUN_TTL)

    def count_submitted(self, n: int = 1) -> None:
        self.client.hincrby(self.key, "books_submitted", n)

    def finish(self) -> None:
        self.client.hsetnx(self.key, "finished_at", time.time())

    def cancel(self) -> None:
        """Mark the run stopped (Ctrl-C, --fail-fast): workers drop its queued tasks unrun.

        What was stored stays stored; the same command run again does only what is left.
        """
        self.client.hsetnx(self.key, "cancelled_at", time.time())

    def cancelled(self) -> bool:
        """True once the run was cancelled; checked by each task before it does any work."""
        return bool(self.client.hexists(self.key, "cancelled_at"))

    def last_to_cut(self, label: str) -> bool:
        """True if `label`'s book is the last of the run to be cut into batches; see DECIDE_CUT."""
        keys = [self.key, f"{self.key}:cuts", f"{self.key}:failures"]
        return bool(self._decide_cut(keys=keys, args=[label, RUN_TTL]))

    def register_book(
        self,
        book_id: str,
        label: str,
        *,
        chunks_total: int,
        already_stored: int,
        batches: dict[int, int],
        stale_ids: list[str],
    ) -> Registration:
        """Claim `book_id` for `label`; see REGISTER_BOOK (tasks/ledger_scripts.py).

        A second source of a claimed book counts as fetched and done there, once, and adds no
        stale ids: only the claiming source decides what its book no longer has.
        """
        args: list[Any] = [book_id, label, chunks_total, already_stored, RUN_TTL, len(batches)]
        for index, size in sorted(batches.items()):
            args += [index, size]
        args += stale_ids
        keys = [
            self.key, f"{self.key}:books", self.pending_key(book_id), self.stale_key(book_id),
            f"{self.key}:fetched",
        ]
        return Registration(int(cast(int, self._register(keys=keys, args=args))))

    def unfinished(self, labels: Iterable[str]) -> dict[str, str | None]:
        """The sources among `labels` whose book has neither landed nor failed, each with the
        book it claimed: None while its fetch has not ended, else a book with batches to store.

        Their fetch sent again finishes them (ids are deterministic, upserts idempotent, and the
        ledger counts what is sent again once): a fetch that ended re-sends only the missing
        batches (Registration.RETRY).
        """
        wanted = list(labels)
        failed = set(self.failures())
        raw = cast(dict[Any, Any], self.client.hgetall(f"{self.key}:fetched"))
        fetched = {_text(k): _text(v) for k, v in raw.items()}
        owners = self.book_sources()
        out: dict[str, str | None] = {}
        for label in wanted:
            book = fetched.get(label)
            if label in failed or (book is not None and owners.get(book) != label):
                continue  # failed, or a second source of a book (done when it was refused)
            if book is None or self.client.exists(self.pending_key(book)):
                out[label] = book
        return out

    def book_sources(self) -> dict[str, str]:
        """Book id -> the label of the source that claimed it in this run."""
        raw = cast(dict[Any, Any], self.client.hgetall(f"{self.key}:books"))
        return {_text(k): _text(v) for k, v in raw.items()}

    def pending_batches(self, book_id: str) -> set[int]:
        """Batch indexes of `book_id` not yet stored (used when a fetch is retried)."""
        return {
            int(i) for i in cast(dict[Any, Any], self.client.hgetall(self.pending_key(book_id)))
        }

    def complete_batch(self, book_id: str, index: int, node: str = "") -> BatchOutcome:
        """Count batch `index` of `book_id` as stored by worker `node`; see COMPLETE_BATCH."""
        keys = [self.key, self.pending_key(book_id), f"{self.key}:nodes"]
        return BatchOutcome(int(cast(int, self._complete(keys=keys, args=[index, node, RUN_TTL]))))

    def batches_by_node(self) -> dict[str, int]:
        """Embed batches each worker node stored in this run (redeliveries counted once)."""
        raw = cast(dict[Any, Any], self.client.hgetall(f"{self.key}:nodes"))
        return {_text(k): int(v) for k, v in raw.items()}

    def take_stale(self, book_id: str) -> list[str]:
        """Remove and return the chunk ids a finished book no longer has."""
        pipe = self.client.pipeline()
        pipe.smembers(self.stale_key(book_id))
        pipe.delete(self.stale_key(book_id))
        members, _ = pipe.execute()
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    def fail(self, label: str, reason: str, book_id: str | None = None) -> bool:
        """Record that `label` failed with `reason`; True if this call recorded it.

        `book_id` is given when the book had registered (its embed or LLM stage failed).
        """
        keys = [self.key, f"{self.key}:failures", self.pending_key(book_id or "-")]
        registered = "1" if book_id else "0"
        return bool(self._fail(keys=keys, args=[label, reason, RUN_TTL, registered]))

    def count_embed_usage(self, requests: int, tokens: int) -> None:
        """Count requests sent to the embeddings endpoint and the tokens they cost."""
        pipe = self.client.pipeline()
        pipe.hincrby(self.key, "embed_requests", requests)
        pipe.hincrby(self.key, "embed_tokens", tokens)
        pipe.execute()

    def queue_pages(self, pending_key: str, pages: Iterable[int], ttl: int) -> int:
        """Add scanned `pages` to `pending_key`, the set of pages a document's fetch waits for
        (kept `ttl` seconds), counting those new to it as queued for OCR; see QUEUE_PAGES."""
        numbers = [int(n) for n in pages]
        if not numbers:
            return 0
        keys = [self.key, pending_key]
        return int(cast(int, self._queue_pages(keys=keys, args=[ttl, time.time(), *numbers])))

    def page_read(self, pending_key: str, page: int) -> tuple[bool, int]:
        """Strike `page` off `pending_key`, counting it read if it was there; returns whether
        this call struck it off and how many pages are still pending. See READ_PAGE."""
        removed, left = cast(list[int], self._read_page(keys=[self.key, pending_key], args=[page]))
        return bool(removed), int(left)

    def want_contexts(self, n: int) -> None:
        """Count `n` more chunks sent to the LLM stage for a context."""
        self.client.hincrby(self.key, "contexts_wanted", n)

    def record_context(self, chunk_id: str, context: str | None, reason: str = "") -> bool:
        """Record `chunk_id`'s context (None: it failed for `reason`); True the first time."""
        keys = [self.key, f"{self.key}:contexts", f"{self.key}:context_failures"]
        status = ("ok", context) if context is not None else ("failed", reason or "failed")
        return bool(self._record_context(keys=keys, args=[chunk_id, *status, RUN_TTL]))

    def contexts(self, chunk_ids: list[str]) -> dict[str, str | None]:
        """The outcome recorded for each of `chunk_ids` that has one: its context, or None."""
        if not chunk_ids:
            return {}
        pipe = self.client.pipeline()
        pipe.hmget(f"{self.key}:contexts", chunk_ids)
        pipe.hmget(f"{self.key}:context_failures", chunk_ids)
        done, failed = pipe.execute()
        out: dict[str, str | None] = {}
        for chunk_id, ok, bad in zip(chunk_ids, done, failed, strict=True):
            if ok is not None:
                out[chunk_id] = _text(ok)
            elif bad is not None:
                out[chunk_id] = None
        return out

    def warn(self, message: str) -> None:
        pipe = self.client.pipeline()
        pipe.rpush(f"{self.key}:warnings", message)
        pipe.expire(f"{self.key}:warnings", RUN_TTL)
        pipe.execute()

    def snapshot(self) -> Snapshot:
        raw = cast(dict[Any, Any], self.client.hgetall(self.key))
        values = {_text(k): _text(v) for k, v in raw.items()}
        known = {f.name: f.type for f in fields(Snapshot)}
        parsed: dict[str, Any] = {}
        for name in known:
            if name in values:
                parsed[name] = float(values[name]) if name.endswith("_at") else int(values[name])
        return Snapshot(**parsed)

    def description(self) -> str:
        return _text(self.client.hget(self.key, "description") or b"")

    def failures(self) -> dict[str, str]:
        raw = cast(dict[Any, Any], self.client.hgetall(f"{self.key}:failures"))
        return {_text(k): _text(v) for k, v in raw.items()}

    def warnings(self) -> list[str]:
        return [
            _text(w) for w in cast(list[Any], self.client.lrange(f"{self.key}:warnings", 0, -1))
        ]

    def exists(self) -> bool:
        return bool(self.client.exists(self.key))


def recent_runs(client: redis.Redis, limit: int = 10) -> list[str]:
    """Ids of runs whose record still exists, newest first."""
    found: list[str] = []
    start = 0
    while len(found) < limit:
        page = cast(list[Any], client.zrevrange(RUNS_KEY, start, start + limit - 1))
        ids = [_text(r) for r in page]
        if not ids:
            break
        live = _live(client, ids)
        found += [run for run in ids if run in live][: limit - len(found)]
        start += len(ids)
    return found


def forget_expired_runs(client: redis.Redis, before: float = float("inf")) -> int:
    """Drop from the list of runs those started before `before` whose record has expired; how
    many. A run's record expires RUN_TTL after its last write, but the list is one sorted set
    that never expires as a whole: without this it would keep every run ever started."""
    ids = [_text(r) for r in cast(list[Any], client.zrangebyscore(RUNS_KEY, "-inf", before))]
    gone = [run for run in ids if run not in _live(client, ids)]
    if gone:
        client.zrem(RUNS_KEY, *gone)
    return len(gone)


def _live(client: redis.Redis, ids: list[str]) -> set[str]:
    """Those of `ids` whose run record exists."""
    pipe = client.pipeline(transaction=False)
    for run in ids:
        pipe.exists(f"{PREFIX}:{run}")
    return {run for run, alive in zip(ids, pipe.execute(), strict=True) if alive}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
