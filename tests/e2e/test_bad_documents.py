"""Bad documents in a folder: each is one line naming it, the good book lands, nothing is lost.

The documents are built with the builders of tests/corpus/formats; the folder goes through the
real `ragmill ingest`, real workers and real Chroma. Every check writes a row of the bad-input
table in docs/reliability.md (see tests/faults/report.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tasks.settings import Settings
from tasks.store import ChunkStore
from tests.conftest import Cluster, Result, run_cli
from tests.corpus.formats.builders import CHAPTER_TEXT, epub, pdf, xhtml
from tests.corpus.formats.test_pdf import body_page, book_pages
from tests.faults.report import RecordProperty
from tests.support.cli import RAGMILL

pytestmark = pytest.mark.e2e

SECRET = "TOP-SECRET-FILE-CONTENT-7f3a"
GOOD_PHRASE = "The lighthouse keeper counted ships at dawn"
DRM = (
    b'<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
    b'<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#">'
    b'<EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
    b"</EncryptedData></encryption>"
)
# The client's peak memory, in KiB, after running the command given as arguments.
PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stdout.write(done.stdout); sys.stderr.write(done.stderr)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(done.returncode)\n"
)


def zip_bomb() -> bytes:
    """An EPUB of a few hundred KB whose chapter unpacks past the workers' size cap."""
    over = Settings().max_book_bytes + 2**20
    return epub({"OEBPS/text/one.xhtml": xhtml("<p>" + "a" * over + "</p>")})


def xxe_epub(secret: Path) -> bytes:
    """An EPUB whose chapter declares an external entity naming a local file, and uses it."""
    doctype = f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
    return epub(one=xhtml(f"<h1>Chapter One</h1><p>{CHAPTER_TEXT} &xxe;</p>", doctype))


def write_bad_documents(folder: Path) -> dict[str, tuple[str, str]]:
    """Each bad document written to ``folder``: file name -> (case, what its line must say)."""
    documents: dict[str, tuple[str, bytes, str]] = {
        "secret.pdf": ("an encrypted PDF", pdf(book_pages(), encrypt=True), "encrypted"),
        "scan.pdf": ("a PDF with no text layer (scanned)", pdf([[], []]), "OCR it first"),
        "cut.pdf": ("a truncated PDF", pdf(book_pages())[:700], "truncated or corrupt"),
        "drm.epub": ("a DRM-protected EPUB (META-INF/encryption.xml)",
                     epub({"META-INF/encryption.xml": DRM}), "DRM-protected"),
        "picture.epub": ("a `.epub` that is not a zip", b"\x89PNG\r\n\x1a\n" + bytes(200),
                         "not a valid EPUB (not a zip archive)"),
        "bomb.epub": ("a zip bomb (unpacks past RAGMILL_MAX_BOOK_BYTES)", zip_bomb(),
                      "RAGMILL_MAX_BOOK_BYTES"),
        "report.docx": ("a DOCX that is a renamed binary", bytes(range(256)) * 4,
                        "not a valid DOCX"),
        "blank.html": ("an HTML page with no text",
                       b"<html><body><script>x()</script></body></html>", "no text"),
    }
    for name, (_, data, _) in documents.items():
        (folder / name).write_bytes(data)
    return {name: (case, expect) for name, (case, _, expect) in documents.items()}


def failure_line(stderr: str, path: Path) -> str:
    """The single stderr line that reports ``path`` failed."""
    lines = [line for line in stderr.splitlines() if "failed" in line and str(path) in line]
    assert len(lines) == 1, f"{path.name}: expected one failure line, got {lines}"
    return lines[0]


def stored_texts(cluster: Cluster, collection: str) -> list[str]:
    store = ChunkStore.connect(cluster.chroma_url, collection)
    return list(store.collection.get(include=["documents"])["documents"] or [])


def run_peak(inputs: list[Path], cluster: Cluster, collection: str) -> tuple[Result, int]:
    """`ragmill ingest --json` of ``inputs`` and the client's peak resident memory in KiB."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, RAGMILL, "ingest", *map(str, inputs), "--json",
         "--no-progress", "--collection", collection],
        env=cluster.env(), capture_output=True, text=True, timeout=600,
    )
    *stderr, peak = done.stderr.rstrip("\n").split("\n")
    return Result(done.returncode, done.stdout, "\n".join(stderr)), int(peak)


@pytest.mark.reliability("bad-input", "bad documents in a folder", order=1)
def test_each_bad_document_is_one_line_and_the_good_book_lands(
    cluster: Cluster, collection: str, tmp_path: Path, record_property: RecordProperty
) -> None:
    rows: list[dict[str, str]] = []
    record_property("rows", rows)
    folder = tmp_path / "library"
    folder.mkdir()
    bad = write_bad_documents(folder)
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    (folder / "xxe.epub").write_bytes(xxe_epub(secret))
    good = [[(20.0, "Chapter One"), (10.0, f"{GOOD_PHRASE}, one by one.")],
            [(10.0, "The harbour lamp burned until the last boat came home.")]]
    (folder / "harbour.pdf").write_bytes(pdf(good))
    # Something stored before the run must still be there after it.
    before = run_cli(
        ["ingest", "1001", "--json", "--no-progress", "--collection", collection], cluster.env()
    )
    assert before.code == 0, before.stderr
    kept = ChunkStore.connect(cluster.chroma_url, collection).collection.get()["ids"]
    assert kept

    # A stray file with no document's name is skipped, not failed.
    (folder / "cover.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))

    started = time.monotonic()
    done, peak_kib = run_peak([folder], cluster, collection)
    seconds = time.monotonic() - started
    assert done.code == 1, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    failures: dict[str, str] = summary["failures"]
    for name, (case, expect) in bad.items():
        path = folder / name
        reason = failures.get(str(path), "")
        assert name in reason and "\n" not in reason, (name, done.stdout + done.stderr)
        assert expect in reason, reason
        line = failure_line(done.stderr, path)
        rows.append({
            "case": case,
            "checked": f"one failure line naming the file, containing '{expect}'",
            "observed": line.strip().replace(str(tmp_path), "<tmp>"),
        })
    skipped_line = [line for line in done.stderr.splitlines() if "Skipped" in line]
    assert len(skipped_line) == 1
    assert [Path(p).name for p in summary["skipped"]] == ["cover.png"]
    assert str(folder / "cover.png") in skipped_line[0]
    rows.append({
        "case": "an image beside the books in the folder",
        "checked": "skipped as not a document, named on the one 'Skipped' line; not a failure",
        "observed": skipped_line[0].strip().replace(str(tmp_path), "<tmp>"),
    })

    texts = stored_texts(cluster, collection)
    assert not any(SECRET in text for text in texts)
    # The entity is left unexpanded, so the book itself is fine and lands.
    assert str(folder / "xxe.epub") not in failures
    assert any(CHAPTER_TEXT in text for text in texts)
    rows.append({
        "case": "an EPUB whose XHTML declares an external entity (`file://` of a local file)",
        "checked": "the entity is never resolved: the file's content is in no stored chunk",
        "observed": f"ingested with the entity unexpanded; its chapter is stored; the secret "
        f"appears in none of the {len(texts)} chunks",
    })

    assert any(GOOD_PHRASE in text for text in texts)
    store = ChunkStore.connect(cluster.chroma_url, collection)
    assert set(kept) <= set(store.collection.get()["ids"])
    assert summary["books_failed"] == len(failures) == len(bad)
    assert summary["books_done"] == 2
    rows.append({
        "case": "the good books of the same run (a PDF and the XXE EPUB), and a book stored "
        "before the run",
        "checked": "exit 1 (failures); the good book's chunks in Chroma; every chunk stored "
        "before is still there",
        "observed": f"{summary['books_done']} landed, {summary['books_failed']} failed, "
        f"{len(kept)} earlier chunks kept, {store.count()} chunks in all, {seconds:.1f} s, "
        f"client peak {peak_kib // 1024} MiB",
    })


@pytest.mark.reliability("bad-input", "a 2,000-page PDF", order=2)
def test_a_2000_page_pdf_lands_with_the_client_memory_bounded(
    cluster: Cluster, collection: str, tmp_path: Path, record_property: RecordProperty
) -> None:
    small, long = tmp_path / "small", tmp_path / "long"
    small.mkdir()
    long.mkdir()
    (small / "short.pdf").write_bytes(pdf(book_pages()))
    (long / "long.pdf").write_bytes(pdf([body_page(number) for number in range(1, 2001)]))
    baseline, baseline_kib = run_peak([small], cluster, f"{collection}_small")
    assert baseline.code == 0, baseline.stderr
    started = time.monotonic()
    done, peak_kib = run_peak([long], cluster, collection)
    seconds = time.monotonic() - started
    assert done.code == 0, done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    store = ChunkStore.connect(cluster.chroma_url, collection)
    pages = [m.get("page_last") for m in store.collection.get(include=["metadatas"])["metadatas"]
             or []]
    assert max(int(p) for p in pages if p is not None) == 2000
    assert store.count() == summary["chunks"] > 0
    # The client holds the file's bytes (~1 MB) and a run's counters, nothing per page.
    grown = (peak_kib - baseline_kib) // 1024
    assert grown < 64, (peak_kib, baseline_kib)
    size = (long / "long.pdf").stat().st_size
    record_property(
        "checked", "exit 0; the last page's chunks stored; the client's peak memory within "
        "64 MiB of a 6-page PDF's"
    )
    record_property(
        "observed", f"{size // 1024} KiB file, {store.count()} chunks up to page 2000, "
        f"{seconds:.1f} s; client peak {peak_kib // 1024} MiB vs {baseline_kib // 1024} MiB",
    )
