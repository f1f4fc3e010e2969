"""Preparing one book from bytes: encodings, ids, title fallback and warnings."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
from tokenizers import Tokenizer

from corpus.book import Book, local_book_id, prepare_book
from corpus.chunking import ChunkConfig
from corpus.errors import DecodeError
from tests.corpus.books import MODERN, NO_MARKERS

CONFIG = ChunkConfig()
EXPECTED_BODY = "It was a dark night. The wind blew hard.\n\nA second paragraph ends here."

ENCODINGS = {
    "utf-8": MODERN.encode("utf-8"),
    "utf-8-bom": b"\xef\xbb\xbf" + MODERN.encode("utf-8"),
    "latin-1": MODERN.replace("dark", "sombre né").encode("latin-1"),
    "crlf": MODERN.replace("\n", "\r\n").encode("utf-8"),
    "cr": MODERN.replace("\n", "\r").encode("utf-8"),
}
Prepare = Callable[..., Book]


@pytest.fixture
def prepare(tokenizer: Tokenizer) -> Prepare:
    """prepare_book with the real tokenizer and the default chunk settings."""
    return partial(prepare_book, tokenizer=tokenizer, config=CONFIG)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_every_encoding_yields_the_same_clean_body_and_header(
    prepare: Prepare, encoding: str
) -> None:
    book = prepare(ENCODINGS[encoding], name="a.txt", fallback_id="f")
    expected = (
        EXPECTED_BODY.replace("dark", "sombre né") if encoding == "latin-1" else EXPECTED_BODY
    )
    assert [c.text for c in book.chunks] == [expected]
    assert (book.book_id, book.meta.title, book.warnings) == ("4242", "A Test Book", [])


def test_a_given_gutenberg_id_wins_and_a_mismatch_is_warned(prepare: Prepare) -> None:
    book = prepare(MODERN.encode(), name="a.txt", gutenberg_id="7", fallback_id="f")
    assert book.book_id == "7"
    assert all(c.id.startswith("7:") for c in book.chunks)
    assert book.warnings == ["a.txt: header says eBook #4242 but it was fetched as #7; keeping #7"]


def test_a_file_without_markers_is_ingested_whole_with_a_warning(prepare: Prepare) -> None:
    book = prepare(NO_MARKERS.encode(), name="notes/a.txt", fallback_id="a-12345678")
    assert book.book_id == "a-12345678"
    assert book.meta.title == "a.txt"
    assert book.chunks[0].text.startswith("My Notes\n\nIt was a dark night.")
    assert book.warnings == ["notes/a.txt: no Gutenberg markers found; ingested whole"]


def test_a_book_with_nothing_between_its_markers_is_a_decode_error(prepare: Prepare) -> None:
    text = (
        b"*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\n"
        b"*** END OF THE PROJECT GUTENBERG EBOOK X ***\n"
    )
    with pytest.raises(DecodeError, match=r"^empty\.txt: no text left"):
        prepare(text, name="empty.txt", fallback_id="f")


def test_the_title_falls_back_to_the_last_part_of_a_url(prepare: Prepare) -> None:
    book = prepare(b"Some text.", name="https://example.org/books/story.txt?x=1", fallback_id="f")
    assert book.meta.title == "story.txt"


def test_local_book_id_is_a_short_slug_plus_a_hash_of_the_identity() -> None:
    assert local_book_id("My Notes (v2).TXT", "/home/a/My Notes (v2).TXT").startswith(
        "my-notes-v2-"
    )
    assert len(local_book_id("x" * 90 + ".txt", "/x")) == 40 + 1 + 8


def test_two_files_with_the_same_name_in_different_folders_get_different_ids() -> None:
    assert local_book_id("a.txt", "/one/a.txt") != local_book_id("a.txt", "/two/a.txt")


def test_a_name_with_no_usable_characters_still_gets_an_id() -> None:
    assert local_book_id("★.txt", "/x/★.txt").startswith("book-")
