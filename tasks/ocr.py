"""`ocr_page`: one scanned page read with Tesseract (queue `embed`, prefork, one process per core).

A fetch whose book has pages without a text layer sends each such page here as a task of its
own and ends, freeing its thread; the pages of one book are read on every core of every embed
machine at once, as its embed batches are, and the task that reads the last page sends the
fetch again, which now finds every page read and chunks the book. Why the embed queue and not
one of OCR's own is in docs/formats.md: it already runs one process per core on every machine,
which is what OCR wants.

Each page's text is kept in Redis under the document's content hash, language and page number
for `PAGE_TTL` (a page image of a folder under its own content hash, as an image file of one
page, so pages added to or taken from the folder leave the others' texts found), so a fetch
redelivered after a crash, or the same scan ingested again, reads only the pages not read yet.

The set of pages a fetch waits for is kept by the run ledger (`queue_pages`, `page_read`), which
counts each page once as queued and once as read: what `ragmill ingest` and `ragmill status`
show while the pages are read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from corpus.errors import CorpusError
from corpus.formats.ocr import OcrSettings, OcrTimeout, ocr_page
from corpus.formats.ocr_pages import PagesNeedOcr
from tasks import queues, resources
from tasks.base import RunTask
from tasks.celery import app
from tasks.ledger import RunLedger
from tasks.messages import FetchBook, RunMessage, WireBytes, send_options, to_wire

__all__ = ["PAGE_TTL", "OcrPage", "PagesQueued", "for_run", "read_pages"]

PAGE_TTL = 7 * 24 * 3600
# A failure is remembered only long enough for the fetch it ends to read it: a re-run tries the
# page again (a machine without the language pack, a page that was merely slow).
ERROR_TTL = 3600
KEY_PREFIX = "ragmill:ocr"
SETTINGS = OcrSettings()
_RUN: ContextVar[tuple[RunLedger, FetchBook] | None] = ContextVar("ocr_run", default=None)


class OcrPage(RunMessage):
    """Read page `page` of the document whose content hash is `digest` (the page's own content
    hash is `page_digest` when its text is kept under it)."""

    digest: str
    page: int
    name: str
    language: str
    data: WireBytes
    page_digest: str = ""

    def summary(self) -> str:
        return f"(run={self.run_id}, source={self.name}, page={self.page})"


def page_key(digest: str, language: str, page: int) -> str:
    return f"{KEY_PREFIX}:{digest}:{language}:{SETTINGS.dpi or 'scan'}:{page}"


def text_key(digest: str, language: str, page: int, page_digest: str = "") -> str:
    """Where a page's text is kept: under the page's own content hash, as page 1 of itself, when
    it has one; else under its document's and its number."""
    return page_key(page_digest, language, 1) if page_digest else page_key(digest, language, page)


def _message_key(message: OcrPage) -> str:
    return text_key(message.digest, message.language, message.page, message.page_digest)


class OcrTask(RunTask):
    """A page that fails for good is written as failed, so the fetch waiting for it goes on."""

    message_type = OcrPage
    dont_autoretry_for = (CorpusError,)

    def record_failure(self, message: OcrPage, ledger: RunLedger, reason: str) -> None:
        _store(message, {"error": f"{message.name}: page {message.page}: {reason}"})
        _page_done(message, ledger)


@app.task(name="ragmill.ocr_page", base=OcrTask, bind=True)
def ocr_page_task(self: OcrTask, message: OcrPage) -> dict[str, Any]:
    """OCR one page into Redis; a page past its time limit is tried once more, then reported."""
    if not resources.redis_client().exists(_message_key(message)):
        _store(message, read_one(message.data, message.name, message.page, message.language))
    _page_done(message, self.ledger(message))
    return {"page": message.page}


def read_one(data: bytes, name: str, page: int, language: str) -> dict[str, str]:
    """{"text": ...} or {"error": one line}; a timeout is retried once."""
    settings = OcrSettings(language=language)
    for attempt in (1, 2):
        try:
            return {"text": ocr_page(data, name=name, page=page, settings=settings)}
        except OcrTimeout as exc:
            if attempt == 2:
                return {"error": f"{exc} (tried twice)"}
        except CorpusError as exc:
            return {"error": str(exc)}
    raise AssertionError("unreachable: the loop returns")


def _store(message: OcrPage, entry: dict[str, str]) -> None:
    ttl = ERROR_TTL if "error" in entry else PAGE_TTL
    resources.redis_client().set(_message_key(message), json.dumps(entry), ex=ttl)


@contextmanager
def for_run(ledger: RunLedger, fetch: FetchBook) -> Iterator[None]:
    """Pages read inside the block belong to `ledger`'s run, and `fetch` is sent again once
    they are all read."""
    token = _RUN.set((ledger, fetch))
    try:
        yield
    finally:
        _RUN.reset(token)


class PagesQueued(Exception):
    """The fetch's scanned pages are being read; the last one to finish sends the fetch again."""

    def __init__(self, name: str, pages: int) -> None:
        super().__init__(f"{name}: {pages} scanned page(s) queued for OCR")
        self.pages = pages


def read_pages(need: PagesNeedOcr, language: str = SETTINGS.language) -> dict[int, str]:
    """The text of every page in `need` when all are in Redis; a page that yielded nothing or
    failed reads as "" and is reported as a warning of the run.

    Otherwise the missing pages are sent to `ocr_page` tasks and PagesQueued is raised: the fetch
    ends, freeing its thread, and the task that reads the last page sends it again.
    """
    current = _RUN.get()
    if current is None:
        raise RuntimeError("read_pages runs inside for_run(ledger, fetch): the fetch names its run")
    ledger, fetch = current
    own = need.page_digests
    keys = {n: text_key(need.digest, language, n, own.get(n, "")) for n in need.pages}
    entries = _fetch(keys)
    messages = [
        OcrPage(run_id=ledger.run_id, digest=need.digest, page=number, name=need.name,
                language=language, data=need.pages[number], page_digest=own.get(number, ""))
        for number in sorted(set(keys) - set(entries))
    ]
    if messages and queues.embed_queue(resources.settings()) != queues.EMBED:
        entries.update(_read_here(messages, ledger))
    elif messages:
        _queue(messages, fetch, ledger)
        raise PagesQueued(need.name, len(messages))
    return {number: _text(need.name, number, entry, ledger) for number, entry in entries.items()}


def _queue(messages: list[OcrPage], fetch: FetchBook, ledger: RunLedger) -> None:
    """Record which pages the fetch waits for (counted in the run) and the fetch itself, then
    send the pages."""
    first = messages[0]
    ledger.queue_pages(_pending_key(first), [m.page for m in messages], PAGE_TTL)
    resources.redis_client().set(_fetch_key(first), json.dumps(to_wire(fetch)), ex=PAGE_TTL)
    for message in messages:
        ocr_page_task.send(message)


def _page_done(message: OcrPage, ledger: RunLedger) -> None:
    """Strike the page off its fetch's list, counting it read once; the task that strikes the
    last sends the fetch."""
    removed, left = ledger.page_read(_pending_key(message), message.page)
    if not removed or left:
        return
    wire = resources.redis_client().getdel(_fetch_key(message))
    if wire is not None:
        app.send_task("ragmill.fetch_book", **send_options(FetchBook.model_validate(
            json.loads(wire))))


def _pending_key(message: OcrPage) -> str:
    return f"{KEY_PREFIX}:{message.digest}:{message.language}:pending:{message.run_id}"


def _fetch_key(message: OcrPage) -> str:
    return f"{KEY_PREFIX}:{message.digest}:{message.language}:fetch:{message.run_id}"


def _read_here(messages: list[OcrPage], ledger: RunLedger) -> dict[int, dict[str, str]]:
    """The pages read in this worker's extraction processes, one per core, counted in the run
    as pages sent to page tasks are.

    With EMBED_BACKEND=openai no embed worker runs, so the io machine reads its scans itself.
    """
    from tasks.extraction import submit

    pending = _pending_key(messages[0])
    ledger.queue_pages(pending, [m.page for m in messages], PAGE_TTL)
    futures = [
        (m, submit(read_one, m.data, m.name, m.page, m.language)) for m in messages
    ]
    entries = {}
    for message, future in futures:
        entries[message.page] = future.result()
        _store(message, entries[message.page])
        ledger.page_read(pending, message.page)
    return entries


def _fetch(keys: dict[int, str]) -> dict[int, dict[str, str]]:
    """The entries already in Redis among `keys` (page number -> key)."""
    if not keys:
        return {}
    numbers = list(keys)
    values = resources.redis_client().mget([keys[n] for n in numbers])
    return {n: json.loads(v) for n, v in zip(numbers, values, strict=True) if v is not None}


def _text(name: str, number: int, entry: dict[str, str], ledger: RunLedger) -> str:
    if "error" in entry:
        ledger.warn(f"{entry['error']}; the rest of the book is kept")
        return ""
    text = entry["text"]
    if not text.strip():
        ledger.warn(
            f"{name}: page {number}: OCR found no text (a photo, a drawing or noise); skipped"
        )
    return text
