"""Fetching books over HTTP: Gutenberg's mirror layouts, a local cache, and hard limits.

Every GET uses (connect, read) timeouts, streams the body with a running byte count so an
oversized answer is refused without being read whole, follows redirects by hand (only to
http/https, at most ``max_redirects``) and retries 5xx, 429, connection errors and timeouts
with exponential backoff plus jitter. Any other 4xx fails at once.

A ``requests.Session`` is not safe to share between threads: give each thread its own
``Downloader``.
"""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from corpus.errors import DecodeError, DownloadError, NotFound, SourceError
from corpus.sources import read_local_file

__all__ = ["DownloadConfig", "Downloader", "fetch_catalog"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024
# A server asking us to wait longer than this is treated as down rather than obeyed.
_MAX_RETRY_AFTER = 60.0
_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True, kw_only=True)
class DownloadConfig:
    """Where to cache, which mirror to use, and the limits every download obeys."""

    cache_dir: Path
    mirror: str = "https://www.gutenberg.org"
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 3
    backoff: float = 0.5
    max_bytes: int = 64 * 2**20
    max_redirects: int = 5


class _Retryable(Exception):
    """A failure worth another attempt: 5xx, 429, a dropped connection or a timeout."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Downloader:
    """Downloads books and catalogs through a cache under ``config.cache_dir``."""

    def __init__(
        self,
        config: DownloadConfig,
        session: requests.Session | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._session = session if session is not None else requests.Session()
        self._sleep = sleep
        self._mirror = config.mirror.rstrip("/")

    def gutenberg_urls(self, book_id: str, edition: str = "txt") -> list[str]:
        """The places a book's ``edition`` (txt, epub or html) may live on the mirror, newest
        layout first."""
        book_id = _checked_id(book_id)
        cache = f"{self._mirror}/cache/epub/{book_id}/pg{book_id}"
        files = f"{self._mirror}/files/{book_id}"
        if edition == "epub":
            # EPUB 3 with images, EPUB 2 with images, EPUB 2 without (the oldest builds).
            return [f"{cache}-images-3.epub", f"{cache}-images.epub", f"{cache}.epub"]
        if edition == "html":
            return [f"{cache}-images.html", f"{cache}.html", f"{files}/{book_id}-h/{book_id}-h.htm"]
        if edition != "txt":
            raise SourceError(f"{edition!r}: not a Gutenberg edition; use txt, epub or html")
        return [
            f"{cache}.txt",
            f"{files}/{book_id}-0.txt",
            f"{files}/{book_id}-8.txt",
            f"{files}/{book_id}.txt",
        ]

    def fetch_gutenberg(self, book_id: str, edition: str = "txt") -> bytes:
        """A Gutenberg book's bytes in ``edition`` (txt, epub or html), from the cache or the
        first mirror layout that has it."""
        book_id = _checked_id(book_id)
        urls = self.gutenberg_urls(book_id, edition)
        cached = self._cache_path("gutenberg", f"{book_id}.{edition}")
        if cached.is_file():
            return cached.read_bytes()
        for url in urls:
            try:
                data = self._get(url, label=f"book {book_id}")
            except NotFound:
                continue
            self._store(cached, data)
            return data
        raise NotFound(
            f"book {book_id}: the mirror answered 404 for {urls[0]} "
            f"(and the {len(urls) - 1} older layouts); check the id or --mirror"
        )

    def fetch_url(self, url: str) -> bytes:
        """The bytes at an http(s) URL, from the cache when fetched before."""
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise SourceError(f"{url}: not an http(s) URL; use http:// or https://")
        cached = self._cache_path("urls", hashlib.sha256(url.encode("utf-8")).hexdigest())
        if cached.is_file():
            return cached.read_bytes()
        try:
            data = self._get(url, label=url)
        except NotFound as err:
            raise NotFound(f"{url}: the server answered 404; check the URL") from err
        self._store(cached, data)
        return data

    def _cache_path(self, kind: str, name: str) -> Path:
        """A path inside the cache; refuses anything that would land outside it."""
        root = self.config.cache_dir.resolve()
        path = (root / kind / name).resolve()
        if not path.is_relative_to(root / kind):
            raise SourceError(f"{name}: would be cached outside {root}; refusing this name")
        return path

    def _store(self, path: Path, data: bytes) -> None:
        """Write ``data`` to ``path`` atomically, so readers never see half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _get(self, url: str, *, label: str) -> bytes:
        """GET ``url`` with retries; ``label`` names the input in error messages."""
        attempts = self.config.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._get_once(url, label=label)
            except _Retryable as err:
                if attempt == attempts:
                    raise DownloadError(
                        f"{label}: {err.reason} for {url} after {attempts} attempts; "
                        "try again later or use another --mirror"
                    ) from err
                self._sleep(self._delay(attempt, err.retry_after))
        raise AssertionError("unreachable: the loop returns or raises")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, so many workers don't retry in lockstep."""
        delay = self.config.backoff * 2 ** (attempt - 1) * (1 + random.random())
        if retry_after is not None:
            delay = max(delay, min(retry_after, _MAX_RETRY_AFTER))
        return delay

    def _get_once(self, url: str, *, label: str) -> bytes:
        """One attempt: follow redirects by hand, check the status, read the capped body."""
        current = url
        for _ in range(self.config.max_redirects + 1):
            try:
                response = self._session.get(
                    current,
                    stream=True,
                    allow_redirects=False,
                    timeout=(self.config.connect_timeout, self.config.read_timeout),
                )
            except _NETWORK_ERRORS as err:
                raise _Retryable(_network_reason(err)) from err
            except requests.RequestException as err:
                raise DownloadError(
                    f"{label}: cannot request {current} ({err}); check the URL"
                ) from err
            with response:
                if response.status_code in _REDIRECTS and "Location" in response.headers:
                    current = self._redirect_target(current, response, label=label)
                    continue
                self._check_status(current, response, label=label)
                return self._read_body(current, response, label=label)
        raise DownloadError(
            f"{label}: more than {self.config.max_redirects} redirects starting at {url}; "
            "check the URL or --mirror"
        )

    def _redirect_target(self, current: str, response: requests.Response, *, label: str) -> str:
        """Where a redirect points, refused unless it is http(s)."""
        target = urljoin(current, response.headers["Location"])
        if urlsplit(target).scheme.lower() not in ("http", "https"):
            raise DownloadError(
                f"{label}: {current} redirected to {target}, which is not http(s); refusing it"
            )
        return target

    def _check_status(self, url: str, response: requests.Response, *, label: str) -> None:
        """Raise for anything but success: NotFound, a retryable failure, or DownloadError."""
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 404:
            raise NotFound(f"{label}: the server answered 404 for {url}; check the id or URL")
        if status == 429 or status >= 500:
            raise _Retryable(
                f"the server answered {status}", _retry_after(response.headers.get("Retry-After"))
            )
        raise DownloadError(f"{label}: the server answered {status} for {url}; check the URL")

    def _read_body(self, url: str, response: requests.Response, *, label: str) -> bytes:
        """The body, refused as soon as it is known to exceed ``max_bytes``."""
        limit = self.config.max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise DownloadError(
                f"{label}: {url} is {declared} bytes, over the {limit}-byte limit; "
                "raise max_bytes if this is really a book"
            )
        parts: list[bytes] = []
        received = 0
        try:
            for part in response.iter_content(_CHUNK_BYTES):
                received += len(part)
                if received > limit:
                    raise DownloadError(
                        f"{label}: {url} sent more than the {limit}-byte limit; "
                        "raise max_bytes if this is really a book"
                    )
                parts.append(part)
        except _NETWORK_ERRORS as err:
            raise _Retryable(_network_reason(err)) from err
        return b"".join(parts)


def fetch_catalog(location: str, downloader: Downloader) -> str:
    """The text of a catalog CSV from a local path or an http(s) URL."""
    if "://" in location:
        data = downloader.fetch_url(location)
    else:
        data = read_local_file(Path(location).expanduser(), downloader.config.max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DecodeError(
            f"{location}: the catalog is not UTF-8 (byte {err.start}); "
            "use Gutenberg's pg_catalog.csv"
        ) from err


def _checked_id(book_id: str) -> str:
    """A Gutenberg id as canonical digits; nothing else may reach a URL or a path."""
    if not (book_id.isascii() and book_id.isdigit()):
        raise SourceError(f"{book_id!r}: not a Gutenberg id; ids are digits like 1342")
    return str(int(book_id))


def _network_reason(err: Exception) -> str:
    """A short phrase for a network failure."""
    if isinstance(err, requests.Timeout):
        return "the connection timed out"
    return "the connection failed"


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
