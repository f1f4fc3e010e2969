"""A folder of page images is one book: which folders are, the order of their pages, how they
travel as one document, and their pages read back by the real Tesseract with their numbers.

The pages are drawn from the opening of Alice's Adventures in Wonderland (tests/corpus/test_ocr.py
draws them), so the text each must give back is known.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pytest
from PIL import Image
from tokenizers import Tokenizer

from corpus.book import local_book_id, prepare_book
from corpus.chunking import ChunkConfig
from corpus.errors import CorruptDocument, SourceError
from corpus.formats.detect import detect_format
from corpus.formats.extract import extract_document
from corpus.formats.ocr_pages import OcrPlan, PagesNeedOcr, ocr_plan
from corpus.formats.page_folder import pack_pages, unpack_pages
from corpus.sources import natural_order, page_folder, read_local_file, resolve
from tests.corpus.test_ocr import DPI, MAX_CER, UNAVAILABLE, cer, page_image, page_text

ALICE = [
    [
        "Alice was beginning to get very tired of sitting",
        "by her sister on the bank, and of having nothing",
        "to do: once or twice she had peeped into the book",
    ],
    [
        "So she was considering in her own mind (as well",
        "as she could, for the hot day made her feel very",
        "sleepy and stupid), whether the pleasure of making",
    ],
    [
        "There was nothing so very remarkable in that;",
        "nor did Alice think it so very much out of the way",
        "to hear the Rabbit say to itself, Oh dear! Oh dear!",
    ],
]


def blank_page(path: Path) -> None:
    """A small white PNG: a page image for the tests that only sort files."""
    Image.new("L", (40, 60), 255).save(path, format="PNG")


def scanned_folder(folder: Path, names: list[str]) -> Path:
    """`folder` holding one scanned page of ALICE per name, in order."""
    folder.mkdir(parents=True)
    for name, lines in zip(names, ALICE, strict=True):
        page_image(lines).save(folder / name, format="PNG", dpi=(DPI, DPI))
    return folder


def test_a_folder_of_page_images_is_one_book_whose_pages_follow_the_numbers_in_their_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = tmp_path / "lib" / "mybook"
    book.mkdir(parents=True)
    for name in ("10.png", "2.png", "1.png"):
        blank_page(book / name)
    (book / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    (tmp_path / "lib" / "notes.txt").write_text("Some notes.")
    monkeypatch.chdir(tmp_path)
    result = resolve(["lib"])
    assert [s.label for s in result.sources] == ["lib/mybook", "lib/notes.txt"]
    assert result.sources[0].ref == str(book)
    assert result.skipped == ["lib/mybook/.DS_Store"]
    pages = page_folder(book)
    assert pages is not None and [p.name for p in pages] == ["1.png", "2.png", "10.png"]
    # The folder named itself is the same one book.
    assert [s.ref for s in resolve(["lib/mybook"]).sources] == [str(book)]


def test_numbers_in_names_sort_by_value() -> None:
    names = ["page-10.tif", "page-9.tif", "page-010.tif", "Page-1.tif", "page-2b.tif"]
    ordered = sorted(names, key=lambda n: (natural_order(n), n))
    assert ordered == ["Page-1.tif", "page-2b.tif", "page-9.tif", "page-010.tif", "page-10.tif"]


def test_images_beside_documents_beside_an_html_file_or_alone_stay_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = tmp_path / "lib"
    (lib / "notes").mkdir(parents=True)
    (lib / "notes" / "todo.txt").write_text("Buy ink.")
    blank_page(lib / "notes" / "a.png")
    blank_page(lib / "notes" / "b.png")
    # An HTML edition and its illustrations, as Gutenberg's HTML zips unpack.
    (lib / "edition" / "images").mkdir(parents=True)
    (lib / "edition" / "book.htm").write_text("<html><body><p>A tale.</p></body></html>")
    blank_page(lib / "edition" / "images" / "fig1.png")
    blank_page(lib / "edition" / "images" / "fig2.png")
    (lib / "cover").mkdir()
    blank_page(lib / "cover" / "front.png")
    monkeypatch.chdir(tmp_path)
    result = resolve(["lib"])
    assert [s.label for s in result.sources] == ["lib/edition/book.htm", "lib/notes/todo.txt"]
    assert result.skipped == [
        "lib/cover/front.png", "lib/edition/images/fig1.png", "lib/edition/images/fig2.png",
        "lib/notes/a.png", "lib/notes/b.png",
    ]


def test_a_folder_travels_as_one_document_and_a_damaged_one_is_refused(tmp_path: Path) -> None:
    book = tmp_path / "mybook"
    book.mkdir()
    for name in ("1.png", "2.png"):
        blank_page(book / name)
    data = read_local_file(book, max_bytes=2**20)
    assert detect_format(data, "mybook") == "pages"
    assert unpack_pages(data, "mybook") == [
        (name, (book / name).read_bytes()) for name in ("1.png", "2.png")
    ]
    assert pack_pages(unpack_pages(data, "mybook")) == data
    with pytest.raises(CorruptDocument, match=r"^mybook: not a readable folder of page images"):
        unpack_pages(data[:-1], "mybook")
    with pytest.raises(SourceError, match=r"its 2 page images add up to \d+ bytes, over the 100-"):
        read_local_file(book, max_bytes=100)


def test_each_page_is_named_by_its_own_content_so_its_text_outlives_the_folder(
    tmp_path: Path,
) -> None:
    book = tmp_path / "mybook"
    book.mkdir()
    for name in ("a.png", "b.png"):
        blank_page(book / name)
    blank_page(book / "c.png")
    (book / "c.png").write_bytes((book / "c.png").read_bytes() + b"\x00")  # other bytes
    with ocr_plan(OcrPlan(inline=False)), pytest.raises(PagesNeedOcr) as need:
        extract_document(read_local_file(book, max_bytes=2**20), "mybook")
    request = pickle.loads(pickle.dumps(need.value))  # as it leaves the extraction process
    assert request.page_digests == {
        n: hashlib.sha256((book / name).read_bytes()).hexdigest()
        for n, name in enumerate(["a.png", "b.png", "c.png"], 1)
    }
    assert request.pages[3] == (book / "c.png").read_bytes()


@pytest.mark.skipif(UNAVAILABLE is not None, reason=f"Tesseract is not usable: {UNAVAILABLE}")
def test_a_scanned_folder_reads_back_page_by_page_in_name_order(
    tmp_path: Path, tokenizer: Tokenizer
) -> None:
    # In plain name order 10.png would come second.
    book = scanned_folder(tmp_path / "mybook", ["1.png", "2.png", "10.png"])
    data = read_local_file(book, max_bytes=2**26)
    document = extract_document(data, "mybook")
    assert document.format == "pages"
    for number, lines in enumerate(ALICE, 1):
        assert cer(page_text(document, number), " ".join(lines)) < MAX_CER, number
    prepared = prepare_book(
        data, name="mybook", tokenizer=tokenizer, fallback_id=local_book_id("mybook", str(book)),
        config=ChunkConfig(max_tokens=24, overlap_tokens=0),
    )
    assert prepared.meta.title == "mybook" and prepared.book_id.startswith("mybook-")
    first = next(c for c in prepared.chunks if "Alice was beginning" in c.text)
    rabbit = next(c for c in prepared.chunks if "Rabbit" in c.text)
    assert first.pages is not None and first.pages[0] == 1
    assert rabbit.pages == (3, 3)
