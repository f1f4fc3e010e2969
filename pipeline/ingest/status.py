"""`ragmill status`: what recent runs have done and what is left."""

from __future__ import annotations

import json
import time

import redis
from rich.console import Console
from rich.table import Table

from pipeline.ingest.progress_bar import average_page_rate, ocr_progress
from tasks.ledger import RunLedger, Snapshot, recent_runs


def run_record(client: redis.Redis, run_id: str) -> dict[str, object]:
    ledger = RunLedger(client, run_id)
    s = ledger.snapshot()
    return {
        "run": run_id,
        "sources": ledger.description(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.started_at)),
        "finished": bool(s.finished_at),
        # Stopped by Ctrl-C or --fail-fast: the same command run again does what is left.
        "interrupted": bool(s.cancelled_at),
        "books_total": s.books_total,
        "books_done": s.books_done,
        "books_failed": s.books_failed,
        "books_left": max(s.books_total - s.books_finished, 0),
        "chunks_known": s.chunks_known,
        "chunks_stored": s.chunks_stored,
        "chunks_left": max(s.chunks_known - s.chunks_stored, 0),
        # Scanned pages sent to OCR and read of those; `ocr` is the line shown while pages of a
        # run still going are being read ("" otherwise).
        "ocr_pages_queued": s.ocr_pages_queued,
        "ocr_pages_read": s.ocr_pages_read,
        "ocr": ocr_line(s) if not (s.finished_at or s.cancelled_at) else "",
        "failures": ledger.failures(),
    }


def ocr_line(s: Snapshot) -> str:
    """'OCR 37/300 pages, 1.4 pages/s, ETA 3m10s' (the rate since the first page was queued)
    while pages remain, else ''."""
    if not s.ocr_pages_left:
        return ""
    return ocr_progress(s, average_page_rate(s, time.time()))


def show_status(client: redis.Redis, run_id: str | None, as_json: bool, out: Console) -> None:
    runs = [run_id] if run_id else recent_runs(client)
    if run_id and not RunLedger(client, run_id).exists():
        out.print(f"no run {run_id} is recorded; `ragmill status` lists recent runs")
        raise SystemExit(1)
    records = [run_record(client, r) for r in runs]
    if as_json:
        out.print_json(json.dumps(records))
        return
    if not records:
        out.print("No ingest runs recorded yet.")
        return
    table = Table("run", "started", "books done/failed/left", "chunks stored/known", "sources")
    for r in records:
        table.add_row(
            str(r["run"]),
            str(r["started"]),
            f"{r['books_done']}/{r['books_failed']}/{r['books_left']}",
            f"{r['chunks_stored']}/{r['chunks_known']}",
            str(r["sources"]),
        )
    out.print(table)
    for r in records:
        if r["ocr"]:
            out.print(f"{r['run']}: {r['ocr']}", markup=False)
        if r["interrupted"]:
            out.print(
                f"{r['run']}: interrupted with {r['books_left']} books and {r['chunks_left']} "
                "known chunks left; run the same command again to finish",
                markup=False,
            )
        for reason in dict(r["failures"]).values():  # type: ignore[call-overload]
            out.print(f"{r['run']}: failed: {reason}", markup=False)
