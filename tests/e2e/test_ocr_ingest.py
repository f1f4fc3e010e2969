"""A scanned book goes through real workers: its pages are read by Tesseract on the embed
processes, land in Chroma with their page numbers, and are found by a query.

The session's redis-server, Chroma server, io and embed workers (tests/conftest.py) run it; the
scans are made at test time from known text (tests/corpus/test_ocr.py).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import redis

from corpus.formats.ocr import ocr_unavailable
from tasks.store import ChunkStore
from tests.conftest import Cluster, run_cli
from tests.corpus.test_ocr import PAGES, image_pdf, noise_image, page_image

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
