"""Downloads against a real HTTP server on 127.0.0.1: layouts, cache, limits, retries."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from corpus.download import DownloadConfig, Downloader, fetch_catalog
from corpus.errors import DownloadError, NotFound, SourceError
from tests.corpus.gutenberg_mirror import OVERSIZE, Mirror

BOOK = b"Title: A Book\n\n*** START OF THE PROJECT GUTENBERG EBOOK A BOOK ***\nText.\n"


def make_downloader(
    mirror: Mirror, tmp_path: Path, sleeps: list[float] | None = None
) -> Downloader:
    config = DownloadConfig(
        cache_dir=tmp_path / "cache",
        mirror=mirror.url + "/",
        connect_timeout=2.0,
        read_timeout=0.3,
        retries=2,
        backoff=0.01,
        max_bytes=OVERSIZE - 1,
    )
    return Downloader(config, sleep=(sleeps.append if sleeps is not None else lambda _: None))


def test_gutenberg_urls_list_the_four_layouts_in_order_without_double_slash(
    mirror: Mirror, tmp_path: Path
) -> None:
    urls = make_downloader(mirror, tmp_path).gutenberg_urls("1342")
    assert urls == [
        f"{mirror.url}/cache/epub/1342/pg1342.txt",
        f"{mirror.url}/files/1342/1342-0.txt",
        f"{mirror.url}/files/1342/1342-8.txt",
        f"{mirror.url}/files/1342/1342.txt",
    ]


def test_fetch_gutenberg_reads_the_cache_epub_layout(mirror: Mirror, tmp_path: Path) -> None:
    mirror.files["/cache/epub/84/pg84.txt"] = BOOK
    assert make_downloader(mirror, tmp_path).fetch_gutenberg("84") == BOOK


def test_fetch_gutenberg_falls_back_to_older_layouts_on_404(mirror: Mirror, tmp_path: Path) -> None:
    mirror.files["/files/84/84-8.txt"] = BOOK
    assert make_downloader(mirror, tmp_path).fetch_gutenberg("84") == BOOK
    assert mirror.hits["/cache/epub/84/pg84.txt"] == 1
    assert mirror.hits["/files/84/84-0.txt"] == 1
    assert "/files/84/84.txt" not in mirror.hits


def test_fetch_gutenberg_raises_not_found_naming_the_first_url(
    mirror: Mirror, tmp_path: Path
) -> None:
    with pytest.raises(NotFound) as caught:
        make_downloader(mirror, tmp_path).fetch_gutenberg("99999999")
    message = str(caught.value)
    assert message.startswith("book 99999999: the mirror answered 404 for ")
    assert f"{mirror.url}/cache/epub/99999999/pg99999999.txt" in message
    assert "\n" not in message
    assert mirror.total_hits == 4


@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "12a", "", "١٢", "-5"])
def test_fetch_gutenberg_refuses_non_digit_ids_without_touching_network_or_disk(
    mirror: Mirror, tmp_path: Path, bad_id: str
) -> None:
    with pytest.raises(SourceError):
        make_downloader(mirror, tmp_path).fetch_gutenberg(bad_id)
    assert mirror.total_hits == 0
    assert not (tmp_path / "cache").exists()


def test_second_fetch_is_served_from_cache_without_a_request(
    mirror: Mirror, tmp_path: Path
) -> None:
    mirror.files["/cache/epub/11/pg11.txt"] = BOOK
    downloader = make_downloader(mirror, tmp_path)
    downloader.fetch_gutenberg("11")
    hits = mirror.total_hits
    assert downloader.fetch_gutenberg("11") == BOOK
    assert mirror.total_hits == hits


def test_cache_file_is_written_whole_under_cache_dir_with_no_temporary_left(
    mirror: Mirror, tmp_path: Path
) -> None:
    mirror.files["/cache/epub/11/pg11.txt"] = BOOK
    make_downloader(mirror, tmp_path).fetch_gutenberg("011")
    folder = tmp_path / "cache" / "gutenberg"
    assert [p.name for p in folder.iterdir()] == ["11.txt"]
    assert (folder / "11.txt").read_bytes() == BOOK


def test_a_500_then_200_is_retried_after_a_backoff(mirror: Mirror, tmp_path: Path) -> None:
    sleeps: list[float] = []
    data = make_downloader(mirror, tmp_path, sleeps).fetch_url(f"{mirror.url}/flaky")
    assert data == b"recovered text"
    assert mirror.hits["/flaky"] == 2
    assert len(sleeps) == 1


def test_a_429_is_retried(mirror: Mirror, tmp_path: Path) -> None:
    assert make_downloader(mirror, tmp_path).fetch_url(f"{mirror.url}/throttled") == (
        b"after the wait"
    )
    assert mirror.hits["/throttled"] == 2


def test_always_500_gives_up_after_the_configured_retries(mirror: Mirror, tmp_path: Path) -> None:
    sleeps: list[float] = []
    with pytest.raises(DownloadError) as caught:
        make_downloader(mirror, tmp_path, sleeps).fetch_url(f"{mirror.url}/broken")
    assert mirror.hits["/broken"] == 3  # one attempt plus retries=2
    assert "500" in str(caught.value)
    assert "after 3 attempts" in str(caught.value)


def test_backoff_grows_exponentially_with_bounded_jitter(mirror: Mirror, tmp_path: Path) -> None:
    sleeps: list[float] = []
    with pytest.raises(DownloadError):
        make_downloader(mirror, tmp_path, sleeps).fetch_url(f"{mirror.url}/broken")
    assert len(sleeps) == 2
    assert 0.01 <= sleeps[0] <= 0.02
    assert 0.02 <= sleeps[1] <= 0.04


def test_a_server_that_never_answers_is_bounded_by_the_read_timeout(
    mirror: Mirror, tmp_path: Path
) -> None:
    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        make_downloader(mirror, tmp_path).fetch_url(f"{mirror.url}/hang")
    assert time.monotonic() - started < 5  # 3 attempts x 0.3 s read timeout, plus slack
    assert "timed out" in str(caught.value)
    assert mirror.hits["/hang"] == 3


def test_a_refused_connection_is_a_download_error(tmp_path: Path) -> None:
    config = DownloadConfig(cache_dir=tmp_path, mirror="http://127.0.0.1:9", retries=1)
    with pytest.raises(DownloadError, match="connection failed"):
        Downloader(config, sleep=lambda _: None).fetch_gutenberg("1")


def test_a_403_fails_at_once_without_retrying(mirror: Mirror, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="403"):
        make_downloader(mirror, tmp_path).fetch_url(f"{mirror.url}/forbidden")
    assert mirror.hits["/forbidden"] == 1


def test_a_declared_oversize_body_is_refused(mirror: Mirror, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="limit"):
        make_downloader(mirror, tmp_path).fetch_url(f"{mirror.url}/declared-oversize")
    assert not (tmp_path / "cache" / "urls").exists()


def test_a_streamed_oversize_body_without_length_is_refused(mirror: Mirror, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="limit"):
        make_downloader(mirror, tmp_path).fetch_url(f"{mirror.url}/streamed-oversize")


@pytest.mark.parametrize("path", ["/to-file", "/to-ftp"])
def test_a_redirect_to_a_non_http_scheme_is_refused(
    mirror: Mirror, tmp_path: Path, path: str
) -> None:
    with pytest.raises(DownloadError, match="not http") as caught:
        make_downloader(mirror, tmp_path).fetch_url(f"{mirror.url}{path}")
    assert not isinstance(caught.value, NotFound)


def test_a_redirect_loop_stops_after_max_redirects(mirror: Mirror, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="more than 5 redirects"):
        make_downloader(mirror, tmp_path).fetch_url(f"{mirror.url}/loop")
    assert mirror.hits["/loop"] == 6


def test_an_http_redirect_is_followed(mirror: Mirror, tmp_path: Path) -> None:
    assert make_downloader(mirror, tmp_path).fetch_url(f"{mirror.url}/moved") == b"the plain text"


def test_fetch_url_caches_under_the_sha256_of_the_url(mirror: Mirror, tmp_path: Path) -> None:
    url = f"{mirror.url}/plain"
    downloader = make_downloader(mirror, tmp_path)
    downloader.fetch_url(url)
    downloader.fetch_url(url)
    cached = tmp_path / "cache" / "urls" / hashlib.sha256(url.encode()).hexdigest()
    assert cached.read_bytes() == b"the plain text"
    assert mirror.hits["/plain"] == 1


def test_fetch_url_names_the_url_on_404(mirror: Mirror, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"/missing\.txt: the server answered 404"):
        make_downloader(mirror, tmp_path).fetch_url(f"{mirror.url}/missing.txt")


@pytest.mark.parametrize("url", ["ftp://example.org/a.txt", "file:///etc/passwd", "http://"])
def test_fetch_url_refuses_non_http_urls(mirror: Mirror, tmp_path: Path, url: str) -> None:
    with pytest.raises(SourceError):
        make_downloader(mirror, tmp_path).fetch_url(url)


def test_fetch_catalog_reads_a_local_file(mirror: Mirror, tmp_path: Path) -> None:
    path = tmp_path / "pg_catalog.csv"
    path.write_bytes("\ufeffText#,Type\n1,Text\n".encode())
    assert fetch_catalog(str(path), make_downloader(mirror, tmp_path)) == "Text#,Type\n1,Text\n"


def test_fetch_catalog_downloads_an_http_url(mirror: Mirror, tmp_path: Path) -> None:
    mirror.files["/cache/epub/feeds/pg_catalog.csv"] = "Text#,Title\n1,Café\n".encode()
    text = fetch_catalog(
        f"{mirror.url}/cache/epub/feeds/pg_catalog.csv", make_downloader(mirror, tmp_path)
    )
    assert text == "Text#,Title\n1,Café\n"
