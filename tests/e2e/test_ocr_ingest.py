"""A scanned book goes through real workers: its pages are read by Tesseract on the embed
processes, counted in the run while they are read, land in Chroma with their page numbers, and
are found by a query; a folder of page images is one such book, and a sync keeps it in step.

The session's redis-server, Chroma server, io and embed workers (tests/conftest.py) run it; the
scans are made at test time from known text (tests/corpus/test_ocr.py,
tests/corpus/test_page_folders.py).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import redis
from rich.console import Console

from corpus.formats.ocr import ocr_unavailable
from pipeline.ingest import run as runs
from pipeline.ingest.progress_bar import ProgressView
from tasks.ledger import Snapshot
from tasks.settings import Settings
from tasks.store import ChunkStore
from tests.conftest import Cluster, run_cli
from tests.corpus.test_ocr import PAGES, image_pdf, noise_image, page_image
from tests.corpus.test_page_folders import ALICE, scanned_folder

UNAVAILABLE = ocr_unavailable("eng")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(UNAVAILABLE is not None, reason=f"Tesseract is not usable: {UNAVAILABLE}"),
]


def ingest(cluster: Cluster, collection: str, *paths: Path) -> dict[str, Any]:
    result = run_cli(
        ["ingest", *map(str, paths), "--json", "--no-progress", "--collection", collection],
        cluster.env(), timeout=180,
    )
    summary = json.loads(result.stdout)
    assert isinstance(summary, dict), result.stderr
    return summary


def query(cluster: Cluster, collection: str, text: str) -> list[dict[str, Any]]:
    result = run_cli(["query", text, "-k", "3", "--json", "--collection", collection],
                     cluster.env())
    assert result.code == 0, result.stderr
    hits = result.json()
    assert isinstance(hits, list)
    return hits


@pytest.fixture
def scans(tmp_path: Path) -> dict[str, Path]:
    """A scanned book whose fourth page is noise, a PNG page, and a book of noise only."""
    book = tmp_path / "harbour-scan.pdf"
    book.write_bytes(image_pdf([*(page_image(lines) for lines in PAGES), noise_image(3)]))
    png = tmp_path / "evening.png"
    out = io.BytesIO()
    page_image(PAGES[2]).save(out, format="PNG", dpi=(300, 300))
    png.write_bytes(out.getvalue())
    noise = tmp_path / "static.pdf"
    noise.write_bytes(image_pdf([noise_image(5), noise_image(6)]))
    return {"book": book, "png": png, "noise": noise}


def test_a_scanned_book_lands_with_its_pages_and_is_found_by_a_query(
    cluster: Cluster, collection: str, scans: dict[str, Path]
) -> None:
    summary = ingest(cluster, collection, scans["book"], scans["png"], scans["noise"])
    assert (summary["books_done"], summary["books_failed"]) == (2, 1), summary
    # The book of noise fails in one line; the noise page of the other book is a warning.
    (reason,) = summary["failures"].values()
    assert "static.pdf: OCR found no text on any of its 2 scanned page(s)" in reason
    assert "\n" not in reason
    assert any("harbour-scan.pdf: page 4: OCR found no text" in w for w in summary["warnings"])

    hits = query(cluster, collection, "the harbour master spoke to the fishermen about herring")
    top = hits[0]
    assert top["book_id"].startswith("harbour-scan")
    assert "herring" in top["text"] and top["page_first"] <= 2 <= top["page_last"]
    stored = ChunkStore.connect(cluster.chroma_url, collection).collection.get(
        include=["metadatas"])
    pages = {(Path(str(m["source"])).name, m["page_first"]) for m in stored["metadatas"] or []}
    assert ("evening.png", 1) in pages


def test_pages_already_read_are_taken_from_redis_not_read_again(
    cluster: Cluster, collection: str, scans: dict[str, Path]
) -> None:
    first = ingest(cluster, collection, scans["book"])
    assert first["books_done"] == 1, first
    client = redis.Redis.from_url(cluster.redis_url)
    digest = hashlib.sha256(scans["book"].read_bytes()).hexdigest()
    (key,) = client.scan_iter(f"ragmill:ocr:{digest}:auto:*:2")
    assert client.ttl(key) > 0
    # Page 2 as remembered is made to say something no scan says: a second ingest that read
    # the page again would not store it.
    client.set(key, json.dumps({"text": "The zebra ate marmalade in the quartz garden."}))
    again = ingest(cluster, f"{collection}_again", scans["book"])
    assert again["books_done"] == 1, again
    hits = query(cluster, f"{collection}_again", "zebra marmalade quartz garden")
    assert "marmalade" in hits[0]["text"] and hits[0]["page_first"] <= 2 <= hits[0]["page_last"]


def forget_pages(cluster: Cluster, digest: str) -> None:
    """Drop what Redis remembers of a document's pages, so this test reads them itself."""
    client = redis.Redis.from_url(cluster.redis_url)
    for key in client.scan_iter(f"ragmill:ocr:{digest}:*"):
        client.delete(key)


def test_pages_are_counted_while_they_are_read_and_the_bar_shows_them(
    cluster: Cluster, collection: str, tmp_path: Path
) -> None:
    book = tmp_path / "alice-scan.pdf"
    book.write_bytes(image_pdf([page_image(lines) for lines in ALICE]))
    forget_pages(cluster, hashlib.sha256(book.read_bytes()).hexdigest())
    settings = Settings.from_env(cluster.env(RAGMILL_COLLECTION=collection))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=240, color_system=None)
    seen: list[Snapshot] = []

    def progress(snapshot: Snapshot) -> None:
        seen.append(snapshot)
        view.update(snapshot)

    with ProgressView(console) as view:
        result = runs.ingest(runs.IngestRequest(inputs=(str(book),)), settings,
                             on_progress=progress)
    report = result.report
    assert report.ok, report.failures
    final = report.snapshot
    assert (final.ocr_pages_queued, final.ocr_pages_read) == (3, 3)
    assert report.as_dict()["ocr_pages_read"] == 3
    # Counted while OCR ran: the book was not yet chunked when its pages were queued.
    assert any(s.ocr_pages_queued == 3 and not s.chunks_known for s in seen)
    shown = screen.getvalue()
    assert "/3 pages" in shown or "OCR 3 pages read" in shown, shown[-2000:]
    if any(0 < s.ocr_pages_read < 3 for s in seen):
        assert "pages/s, ETA" in shown


def test_a_folder_of_page_images_syncs_as_one_book_citing_its_pages(
    cluster: Cluster, collection: str, tmp_path: Path
) -> None:
    library = tmp_path / "library"
    book = scanned_folder(library / "alice", ["1.png", "2.png", "10.png"])
    (library / "notes.txt").write_text("Notes on the river bank and the white rabbit.\n")
    for page in book.iterdir():  # each page's text is kept under the image's own hash
        forget_pages(cluster, hashlib.sha256(page.read_bytes()).hexdigest())
    store = ChunkStore.connect(cluster.chroma_url, collection)

    def sync() -> dict[str, Any]:
        result = run_cli(
            ["sync", str(library), "--json", "--no-progress", "--collection", collection],
            cluster.env(RAGMILL_CHUNK_TOKENS="24", RAGMILL_CHUNK_OVERLAP="0"), timeout=180,
        )
        summary = json.loads(result.stdout)
        assert isinstance(summary, dict) and result.code == 0, result.stderr
        return summary

    first = sync()
    assert (first["added"], first["failures"]) == (2, {}), first
    assert (first["ocr_pages_queued"], first["ocr_pages_read"]) == (3, 3)
    alice = [m for m in store.metadatas() if m["title"] == "alice"]
    assert {m["source_path"] for m in alice} == {str(book.resolve())}
    pages = {(m["page_first"], m["page_last"]) for m in alice}
    assert min(p[0] for p in pages) == 1 and max(p[1] for p in pages) == 3
    hits = query(cluster, collection, "the Rabbit say to itself Oh dear Oh dear")
    rabbit = next(h for h in hits if h["title"] == "alice")
    assert "Rabbit" in rabbit["text"] and rabbit["page_first"] == 3  # 10.png is page 3

    assert sync()["unchanged"] == 2  # nothing read again

    # A page taken out changes the book, read again with its pages' texts from Redis.
    (book / "10.png").unlink()
    changed = sync()
    assert (changed["changed"], changed["unchanged"]) == (1, 1), changed
    assert changed["ocr_pages_queued"] == 0
    alice = [m for m in store.metadatas() if m["title"] == "alice"]
    assert alice and max(int(m["page_last"]) for m in alice) == 2
