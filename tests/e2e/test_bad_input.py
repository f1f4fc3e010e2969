"""Bad input: each gets one clear line naming it and a non-zero exit, and the good books land.

Every check here also writes a row of the bad-input table in docs/reliability.md (see
tests/faults/report.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pipeline.bench.local_http import QuietHandler, serve_http
from pipeline.stack.processes import free_port
from tasks.ledger import RunLedger
from tasks.store import ChunkStore
from tests.conftest import Cluster, run_cli
from tests.faults.report import RecordProperty

pytestmark = pytest.mark.e2e

HTML_ID = "4242"
BIG_BYTES = 200 * 2**20


@contextmanager
def redirecting_server() -> Iterator[str]:
    """An HTTP server whose every path redirects to the scheme the path names (/file, /ftp)."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            target = {
                "/file.txt": "file:///etc/passwd",
                "/ftp.txt": "ftp://127.0.0.1/book.txt",
            }.get(self.path, "gopher://127.0.0.1/")
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serve_http(Handler) as url:
        yield url


def one_line_naming(stderr: str, label: str) -> str:
    """The single stderr line that reports `label` failed."""
    lines = [line for line in stderr.splitlines() if "failed" in line and label in line]
    assert len(lines) == 1, f"{label}: expected one failure line, got {lines}"
    return lines[0]


def write_big_one_line_file(path: Path) -> None:
    """BIG_BYTES of words without a single newline."""
    block = b"word " * (2**20 // 5) + b"word"
    with path.open("wb") as file:
        written = 0
        while written < BIG_BYTES:
            file.write(block)
            written += len(block)


@pytest.mark.reliability("bad-input", "mixed bad inputs")
def test_each_bad_input_fails_alone_with_one_line_and_the_good_books_land(
    cluster: Cluster, collection: str, tmp_path: Path, record_property: RecordProperty
) -> None:
    rows: list[dict[str, str]] = []
    record_property("rows", rows)
    cluster.mirror.put(
        f"cache/epub/{HTML_ID}/pg{HTML_ID}.txt",
        b"<!DOCTYPE html>\n<html><head><title>Sorry</title></head><body>Not here</body></html>",
    )
    files = tmp_path / "files"
    files.mkdir()
    (files / "empty.txt").write_bytes(b"")
    (files / "image.txt").write_bytes(bytes(range(256)) * 64)
    (files / "notes.txt").write_text(
        "Notes without any Gutenberg markers.\n\nThe lighthouse keeper counted ships at dawn.\n"
    )
    (files / "latin1.txt").write_bytes(
        "Le maître du phare comptait les navires à l'aube, été comme hiver.\n".encode("latin-1")
    )
    write_big_one_line_file(files / "huge.txt")
    missing = files / "missing.txt"
    with redirecting_server() as redirects:
        to_file, to_ftp = f"{redirects}/file.txt", f"{redirects}/ftp.txt"
        inputs = {
            "unknown Gutenberg id (404)": "99999999",
            "non-numeric id": "abc",
            "a path that tries to escape (`../../etc/passwd`)": "../../etc/passwd",
            "missing file": str(missing),
            "empty file": str(files / "empty.txt"),
            "binary file": str(files / "image.txt"),
            "200 MB one-line file": str(files / "huge.txt"),
            "HTML page where text was expected": HTML_ID,
            "mirror redirecting to `file://`": to_file,
            "mirror redirecting to `ftp://`": to_ftp,
        }
        started = time.monotonic()
        # From tmp_path, ../../etc/passwd names no file, as it would from a user's home.
        done = run_cli(
            ["ingest", "--json", "--no-progress", "--collection", collection,
             *inputs.values(), str(files / "notes.txt"), str(files / "latin1.txt"), "1001"],
            cluster.env(), cwd=tmp_path,
        )
        seconds = time.monotonic() - started
    assert done.code == 1, done.stderr
    summary: dict[str, Any] = done.json()  # type: ignore[assignment]
    failures: dict[str, str] = summary["failures"]
    assert set(failures) == set(inputs.values())
    expect = {
        "99999999": "404",
        "abc": "not a Gutenberg id",
        "../../etc/passwd": "no such file or folder",
        str(missing): "no such file or folder",
        str(files / "empty.txt"): "empty",
        str(files / "image.txt"): "binary",
        str(files / "huge.txt"): "over the 67108864-byte limit",
        HTML_ID: "HTML page",
        to_file: "not http(s); refusing it",
        to_ftp: "not http(s); refusing it",
    }
    for case, label in inputs.items():
        reason = failures[label]
        assert label in reason and "\n" not in reason
        assert expect[label] in reason, reason
        line = one_line_naming(done.stderr, label)
        rows.append({
            "case": case,
            "checked": f"one failure line naming the input, containing '{expect[label]}'",
            "observed": line.strip().replace(str(tmp_path), "<tmp>"),
        })
    warnings = summary["warnings"]
    notes_warning = [w for w in warnings if "notes.txt" in w]
    assert len(notes_warning) == 1 and "no Gutenberg markers" in notes_warning[0]
    rows.append({
        "case": "a file with no Gutenberg markers",
        "checked": "ingested whole, with one warning naming it",
        "observed": f"warning: {notes_warning[0]}".replace(str(tmp_path), "<tmp>"),
    })
    store = ChunkStore.connect(cluster.chroma_url, collection)
    texts = store.collection.get(include=["documents"])["documents"] or []
    assert any("maître du phare" in t for t in texts)
    rows.append({
        "case": "Latin-1 text",
        "checked": "decoded (cp1252/Latin-1), stored with its accents",
        "observed": "a stored chunk reads 'Le maître du phare ... à l'aube, été'",
    })
    assert summary["books_done"] == 3 and summary["books_failed"] == len(inputs)
    assert store.count() == summary["chunks"] > 0
    rows.append({
        "case": "the good books of the same run (1001, notes, Latin-1)",
        "checked": "exit 1 (failures), the other books land and are counted",
        "observed": f"{summary['books_done']} landed, {summary['books_failed']} failed, "
        f"{store.count()} chunks stored, {seconds:.1f} s",
    })


@pytest.mark.reliability("bad-input", "a fetch task whose id is `../../etc/passwd`")
def test_a_crafted_task_with_a_path_as_id_is_refused_by_the_worker(
    cluster: Cluster, collection: str, record_property: RecordProperty
) -> None:
    # The CLI never sends such an id; a message on a shared broker could.
    from pipeline.stack.broker import client_app
    from tasks.messages import TASK_NAMES, BookOptions, FetchBook, SourceRef, send_options

    app = client_app(cluster.redis_url)
    import redis

    client = redis.Redis.from_url(cluster.redis_url)
    ledger = RunLedger(client, f"crafted-{collection}")
    ledger.start(books_total=1, description="crafted")
    options = BookOptions(
        mirror=cluster.mirror.url, chunk_tokens=200, chunk_overlap=32, collection=collection
    )
    label = "../../etc/passwd"
    message = FetchBook(
        run_id=ledger.run_id,
        source=SourceRef(kind="gutenberg", ref=label, label=label),
        options=options,
    )
    app.send_task(TASK_NAMES[FetchBook], **send_options(message))
    deadline = time.monotonic() + 60
    while not ledger.failures() and time.monotonic() < deadline:
        time.sleep(0.2)
    reason = ledger.failures().get(label, "")
    assert "not a Gutenberg id" in reason and "\n" not in reason
    # Refused before any path was made of it: nothing named after it in or next to the cache.
    cache = cluster.data_dir / "cache"
    assert not (cluster.data_dir / "etc").exists()
    assert not any("passwd" in p.name for p in cache.rglob("*")) if cache.exists() else True
    record_property("checked", "the worker records one failure line; no file named after it")
    record_property("observed", reason)


@pytest.mark.reliability("bad-input", "an invalid `REDIS_URL`")
def test_an_invalid_redis_url_is_one_line_naming_it(
    cluster: Cluster, record_property: RecordProperty
) -> None:
    bad = "http://user:hunter2@127.0.0.1:6379/0"
    done = run_cli(["ingest", "1001", "--no-progress"], cluster.env(REDIS_URL=bad), timeout=60)
    assert done.code == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "REDIS_URL" in lines[0] and "hunter2" not in done.stderr
    record_property("checked", "exit 2, one line naming REDIS_URL, the password masked")
    record_property("observed", lines[0])


@pytest.mark.reliability("bad-input", "an unreachable broker")
def test_an_unreachable_broker_says_how_to_start_one_instead_of_hanging(
    cluster: Cluster, record_property: RecordProperty
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    done = run_cli(["ingest", "1001", "--no-progress"], cluster.env(REDIS_URL=url), timeout=60)
    seconds = time.monotonic() - started
    assert done.code == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0] and "ragmill up" in lines[0]
    assert seconds < 20
    record_property("checked", "exit 1 within seconds, one line naming the URL and `ragmill up`")
    record_property("observed", f"{lines[0]} ({seconds:.1f} s)")


@pytest.mark.reliability("bad-input", "`--fail-fast` with an unknown id first")
def test_fail_fast_stops_at_the_first_failed_book(
    cluster: Cluster, collection: str, record_property: RecordProperty
) -> None:
    done = run_cli(
        ["ingest", "--json", "--no-progress", "--collection", collection, "--fail-fast",
         "--books-in-flight", "1", "99999999", "1001", "1002"],
        cluster.env(),
    )
    assert done.code == 1, done.stderr
    summary: dict[str, Any] = done.json()  # type: ignore[assignment]
    assert list(summary["failures"]) == ["99999999"]
    assert summary["books_failed"] == 1 and summary["books_done"] == 0
    assert ChunkStore.connect(cluster.chroma_url, collection).count() == 0
    one_line_naming(done.stderr, "99999999")
    record_property(
        "checked", "exit 1 after the first failure; the later books are not ingested "
        "(without the flag they are: see the mixed run)",
    )
    record_property(
        "observed",
        f"{summary['books_failed']} failed, {summary['books_done']} landed of "
        f"{summary['books_total']}; nothing stored",
    )
