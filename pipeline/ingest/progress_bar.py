"""The ingest progress bar and end-of-run summary, drawn from ledger snapshots."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tasks.embedding.backend import EmbeddingBackend
from tasks.ledger import Snapshot
from tasks.settings import Settings


@dataclass(frozen=True)
class EndpointLimit:
    """The embeddings endpoint's shared limit (EMBED_RPM, EMBED_TPM per EMBED_WINDOW_SECONDS)."""

    requests: int
    tokens: int
    window: float

    @classmethod
    def of(cls, settings: Settings) -> EndpointLimit | None:
        """The limit when chunks are embedded by an endpoint (EMBED_BACKEND=openai), else None."""
        if not EmbeddingBackend.from_settings(settings).remote:
            return None
        r = settings.remote_embed
        return cls(r.rpm, r.tpm, r.window_seconds)

    def per_minute(self, amount: float, seconds: float) -> float:
        return amount / seconds * 60 if seconds > 0 else 0.0


@dataclass(frozen=True)
class Report:
    """What an ingest did, for the summary and the exit code."""

    snapshot: Snapshot
    seconds: float
    failures: dict[str, str]
    warnings: list[str]
    interrupted: bool = False
    embed_limit: EndpointLimit | None = None
    # Fetches sent again because the run stalled with work missing (pipeline/ingest/submission.py).
    resent: int = 0

    @property
    def chunks_new(self) -> int:
        return self.snapshot.chunks_stored - self.snapshot.chunks_skipped

    @property
    def rate(self) -> float:
        """New chunks embedded and stored per second of wall time."""
        return self.chunks_new / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return not self.failures and not self.interrupted and self.snapshot.complete

    def as_dict(self) -> dict[str, object]:
        s = self.snapshot
        return {
            "books_total": s.books_total,
            "books_done": s.books_done,
            "books_failed": s.books_failed,
            "chunks": s.chunks_known,
            "chunks_stored": s.chunks_stored,
            "chunks_new": self.chunks_new,
            "chunks_already_stored": s.chunks_skipped,
            "seconds": round(self.seconds, 2),
            "chunks_per_second": round(self.rate, 1),
            "failures": self.failures,
            "warnings": self.warnings,
            "interrupted": self.interrupted,
            "resent": self.resent,
            # --contextualize: chunks sent to the LLM, given a context, embedded without one.
            "contexts_wanted": s.contexts_wanted,
            "chunks_contextualized": s.contexts_done,
            "contexts_failed": s.contexts_failed,
            # Scanned pages sent to OCR in this run and read of those.
            "ocr_pages_queued": s.ocr_pages_queued,
            "ocr_pages_read": s.ocr_pages_read,
            **self.endpoint_usage(),
        }

    def endpoint_usage(self) -> dict[str, object]:
        """EMBED_BACKEND=openai: requests and tokens sent to the endpoint, and its limit."""
        limit, s = self.embed_limit, self.snapshot
        if limit is None:
            return {}
        return {
            "embed_requests": s.embed_requests,
            "embed_tokens": s.embed_tokens,
            "embed_limit": {
                "requests": limit.requests, "tokens": limit.tokens, "window_seconds": limit.window
            },
        }


# Pages read over about this many seconds give the OCR rate the bar shows: recent enough to
# follow a run whose scans arrive in bursts, long enough to smooth pages finishing in clumps.
RATE_WINDOW_SECONDS = 30.0


@dataclass
class PageRate:
    """Pages read per second over the last RATE_WINDOW_SECONDS of readings."""

    readings: deque[tuple[float, int]] = field(default_factory=deque)

    def observe(self, now: float, read: int) -> float:
        self.readings.append((now, read))
        while len(self.readings) > 2 and now - self.readings[1][0] >= RATE_WINDOW_SECONDS:
            self.readings.popleft()
        then, before = self.readings[0]
        return (read - before) / (now - then) if now > then else 0.0


class ProgressView:
    """A live bar: chunks stored of chunks known, chunks/s, ETA, books done/failed, and OCR
    pages read while a scan is being read."""

    def __init__(
        self, console: Console, enabled: bool = True, embed_limit: EndpointLimit | None = None
    ) -> None:
        self.console = console
        self.embed_limit = embed_limit
        self.started = time.monotonic()
        self.progress = Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("chunks  {task.fields[rate]:>6.1f}/s"),
            TimeRemainingColumn(),
            TextColumn("books {task.fields[books]}"),
            TextColumn("{task.fields[ocr]}"),
            TextColumn("{task.fields[llm]}"),
            TextColumn("{task.fields[endpoint]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self.task: TaskID = self.progress.add_task(
            "ingest", total=None, rate=0.0, books="0/0", ocr="", llm="", endpoint=""
        )
        self.page_rate = PageRate()

    def __enter__(self) -> ProgressView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, s: Snapshot) -> None:
        now = time.monotonic()
        elapsed = max(now - self.started, 1e-6)
        pages_per_second = self.page_rate.observe(now, s.ocr_pages_read)
        failed = f", {s.books_failed} failed" if s.books_failed else ""
        self.progress.update(
            self.task,
            total=max(s.chunks_known, 1),
            completed=s.chunks_stored,
            rate=(s.chunks_stored - s.chunks_skipped) / elapsed,
            books=f"{s.books_done}/{s.books_total} done{failed}",
            ocr=ocr_progress(s, pages_per_second),
            llm=llm_progress(s),
            endpoint=endpoint_progress(s, self.embed_limit),
        )


def ocr_progress(s: Snapshot, pages_per_second: float) -> str:
    """'OCR 37/300 pages, 1.4 pages/s, ETA 3m10s' while scanned pages are being read (no rate
    before the first is read), 'OCR 300 pages read' once all are, '' for a run without scans."""
    if not s.ocr_pages_queued:
        return ""
    if not s.ocr_pages_left:
        return f"OCR {s.ocr_pages_read} pages read"
    text = f"OCR {s.ocr_pages_read}/{s.ocr_pages_queued} pages"
    if pages_per_second > 0:
        eta = duration(s.ocr_pages_left / pages_per_second)
        text += f", {pages_per_second:.1f} pages/s, ETA {eta}"
    return text


def average_page_rate(s: Snapshot, now: float) -> float:
    """Pages read per second since the run's first page was queued (`now` from time.time())."""
    seconds = now - s.ocr_started_at
    return s.ocr_pages_read / seconds if s.ocr_started_at and seconds > 0 else 0.0


def duration(seconds: float) -> str:
    """'45s', '3m10s', '2h05m'."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def llm_progress(s: Snapshot) -> str:
    """'llm 12/40' (contexts written of chunks sent, and failures), or '' without an LLM stage."""
    if not s.contexts_wanted:
        return ""
    failed = f", {s.contexts_failed} failed" if s.contexts_failed else ""
    return f"llm {s.contexts_done + s.contexts_failed}/{s.contexts_wanted}{failed}"


def endpoint_progress(s: Snapshot, limit: EndpointLimit | None) -> str:
    """'endpoint 12 req, 34k tok (limit 3000 req, 1000k tok / 60 s)', or '' for a local model."""
    if limit is None:
        return ""
    return (
        f"endpoint {s.embed_requests} req, {s.embed_tokens / 1000:.0f}k tok (limit "
        f"{limit.requests} req, {limit.tokens / 1000:.0f}k tok / {limit.window:g} s)"
    )


def print_summary(console: Console, report: Report) -> None:
    s = report.snapshot
    head = "Interrupted" if report.interrupted else "Ingested"
    console.print(
        f"{head}: {s.books_done} of {s.books_total} books landed, {s.books_failed} failed; "
        f"{s.chunks_stored} chunks stored ({report.chunks_new} new, {s.chunks_skipped} already "
        f"stored) in {report.seconds:.1f} s, {report.rate:.1f} chunks/s",
        highlight=False,
    )
    if report.resent:
        console.print(
            f"Re-sent {report.resent} fetch(es) whose work stalled or was lost; ids are "
            "deterministic, so nothing was stored twice",
            highlight=False,
        )
    if s.ocr_pages_queued:
        console.print(
            f"OCR: {s.ocr_pages_read} of {s.ocr_pages_queued} scanned pages read in this run",
            highlight=False,
        )
    if s.contexts_wanted:
        console.print(
            f"Contexts: {s.contexts_done} chunks contextualized by the LLM, "
            f"{s.contexts_failed} embedded without a context",
            highlight=False,
        )
    limit = report.embed_limit
    if limit is not None:
        console.print(
            f"Embeddings endpoint: {s.embed_requests} requests, {s.embed_tokens} tokens; "
            f"{limit.per_minute(s.embed_requests, report.seconds):.0f} requests/min and "
            f"{limit.per_minute(s.embed_tokens, report.seconds):.0f} tokens/min over the run, "
            f"against a limit of {limit.requests} requests and {limit.tokens} tokens per "
            f"{limit.window:g} s",
            highlight=False,
        )
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for label, reason in report.failures.items():
        console.print(
            f"[red]failed:[/] {reason if label in reason else label + ': ' + reason}",
            highlight=False,
        )
    if report.interrupted:
        console.print("Run the same command again to finish; chunks already stored are skipped.")
