"""Resolving command-line inputs to sources, and reading local files safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.errors import SourceError
from corpus.sources import Source, read_local_file, resolve_sources


def test_digits_become_a_gutenberg_source_without_leading_zeros() -> None:
    sources, errors = resolve_sources(["01342"])
    assert sources == [Source("gutenberg", "1342", "01342")]
    assert errors == []


@pytest.mark.parametrize("url", ["http://example.org/a.txt", "https://example.org/b.txt"])
def test_http_and_https_urls_become_url_sources(url: str) -> None:
    assert resolve_sources([url])[0] == [Source("url", url, url)]


@pytest.mark.parametrize("url", ["ftp://example.org/a.txt", "file:///etc/passwd"])
def test_other_schemes_are_errors(url: str) -> None:
    sources, errors = resolve_sources([url])
    assert sources == []
    assert errors[0][0] == url
    assert "scheme" in errors[0][1]


def test_an_existing_file_becomes_a_file_source_with_an_absolute_ref(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    assert resolve_sources(["a.txt"])[0] == [Source("file", str(tmp_path / "a.txt"), "a.txt")]


def test_a_folder_yields_its_documents_recursively_sorted_labelled_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ["b.txt", "a.txt", "sub/c.txt", "notes.md"]:
        (tmp_path / "books" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "books" / name).write_text("x")
    monkeypatch.chdir(tmp_path)
    sources, errors = resolve_sources(["books"])
    assert [s.label for s in sources] == [
        "books/a.txt",
        "books/b.txt",
        "books/notes.md",
        "books/sub/c.txt",
    ]
    assert all(Path(s.ref).is_absolute() and s.kind == "file" for s in sources)
    assert errors == []


def test_a_folder_without_documents_is_an_error(tmp_path: Path) -> None:
    sources, errors = resolve_sources([str(tmp_path)])
    assert sources == []
    assert "folder has no documents" in errors[0][1]


def test_anything_else_is_an_error_saying_what_was_expected() -> None:
    assert resolve_sources(["abc"]) == (
        [],
        [("abc", "abc: not a Gutenberg id, an existing file or folder, or an http(s) URL")],
    )


def test_duplicates_are_dropped_and_order_kept(tmp_path: Path) -> None:
    book = tmp_path / "a.txt"
    book.write_text("x")
    sources, _ = resolve_sources(["84", str(book), "0084", str(book), "11"])
    assert [s.ref for s in sources] == ["84", str(book), "11"]


def test_errors_do_not_stop_the_other_inputs() -> None:
    sources, errors = resolve_sources(["nope", "84"])
    assert [s.ref for s in sources] == ["84"]
    assert [e[0] for e in errors] == ["nope"]


def test_read_local_file_returns_the_bytes(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"abc")
    assert read_local_file(tmp_path / "a.txt", max_bytes=3) == b"abc"


def test_read_local_file_refuses_files_over_the_limit(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"abcd")
    with pytest.raises(SourceError, match="over the 3-byte limit"):
        read_local_file(tmp_path / "a.txt", max_bytes=3)


def test_read_local_file_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        read_local_file(tmp_path / "gone.txt", max_bytes=10)


def test_a_folder_yields_documents_by_content_and_reports_what_it_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corpus.sources import resolve
    from tests.corpus.formats.builders import epub, pdf

    books = tmp_path / "lib"
    books.mkdir()
    (books / "pg1.txt").write_text("Some text.")
    (books / "pg1.epub").write_bytes(epub())
    (books / "scan").write_bytes(pdf([[(10, "x")]]))
    (books / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(64))
    (books / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    monkeypatch.chdir(tmp_path)
    result = resolve(["lib"])
    assert [s.label for s in result.sources] == ["lib/pg1.txt", "lib/pg1.epub", "lib/scan"]
    assert sorted(result.skipped) == ["lib/.DS_Store", "lib/cover.jpg"]
    assert result.errors == []


def test_a_named_file_that_is_not_a_document_fails_in_one_line(tmp_path: Path) -> None:
    image = tmp_path / "cover.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    sources, errors = resolve_sources([str(image)])
    assert sources == []
    assert errors == [
        (
            str(image),
            f"{image}: a binary file, not a document format ragmill reads; "
            "pass TXT, Markdown, HTML, EPUB, PDF or DOCX",
        )
    ]
