"""A Gutenberg id's EPUB and HTML editions come from the mirror's real layouts, cached apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.download import DownloadConfig, Downloader
from corpus.errors import NotFound, SourceError
from tests.corpus.gutenberg_mirror import Mirror


def downloader(mirror: Mirror, tmp_path: Path) -> Downloader:
    config = DownloadConfig(cache_dir=tmp_path / "cache", mirror=mirror.url, retries=0)
    return Downloader(config, sleep=lambda _: None)


def test_the_epub_edition_prefers_epub3_then_falls_back(mirror: Mirror, tmp_path: Path) -> None:
    mirror.files["/cache/epub/84/pg84-images.epub"] = b"PK epub2"
    assert downloader(mirror, tmp_path).fetch_gutenberg("84", "epub") == b"PK epub2"
    mirror.files["/cache/epub/85/pg85-images-3.epub"] = b"PK epub3"
    mirror.files["/cache/epub/85/pg85-images.epub"] = b"PK epub2"
    assert downloader(mirror, tmp_path).fetch_gutenberg("85", "epub") == b"PK epub3"


def test_the_html_edition_is_read_from_the_images_page(mirror: Mirror, tmp_path: Path) -> None:
    mirror.files["/cache/epub/84/pg84-images.html"] = b"<html>84</html>"
    assert downloader(mirror, tmp_path).fetch_gutenberg("84", "html") == b"<html>84</html>"


def test_editions_of_one_id_are_cached_apart(mirror: Mirror, tmp_path: Path) -> None:
    mirror.files["/cache/epub/84/pg84.txt"] = b"text edition"
    mirror.files["/cache/epub/84/pg84-images-3.epub"] = b"PK epub edition"
    fetch = downloader(mirror, tmp_path).fetch_gutenberg
    assert fetch("84", "txt") == b"text edition"
    assert fetch("84", "epub") == b"PK epub edition"
    assert (tmp_path / "cache" / "gutenberg" / "84.epub").read_bytes() == b"PK epub edition"


def test_a_missing_edition_names_its_first_url(mirror: Mirror, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"book 99: .*pg99-images-3\.epub \(and the 2 older"):
        downloader(mirror, tmp_path).fetch_gutenberg("99", "epub")


def test_an_unknown_edition_is_refused(mirror: Mirror, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a Gutenberg edition"):
        downloader(mirror, tmp_path).fetch_gutenberg("84", "mobi")
