"""A real HTTP server on 127.0.0.1 that serves the Gutenberg layout and misbehaves on demand."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from pipeline.bench.local_http import serve_http

__all__ = ["OVERSIZE", "Mirror", "serve"]


@dataclass
class Mirror:
    """A real HTTP server on 127.0.0.1 serving the Gutenberg layout plus misbehaving paths.

    ``files`` maps a URL path to the bytes served there; every request's path is counted.
    """

    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total_hits(self) -> int:
        return sum(self.hits.values())


OVERSIZE = 4096  # tests run the downloader with max_bytes below this


def _handler(mirror: Mirror) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            path = self.path
            with mirror.lock:
                mirror.hits[path] += 1
                seen = mirror.hits[path]
            if path in mirror.files:
                self._send(200, mirror.files[path])
            elif path == "/flaky":  # 500 once, then the text
                if seen == 1:
                    self._send(500, b"busy")
                else:
                    self._send(200, b"recovered text")
            elif path == "/throttled":  # 429 once, then the text
                if seen == 1:
                    self._send(429, b"slow down", {"Retry-After": "0"})
                else:
                    self._send(200, b"after the wait")
            elif path == "/broken":
                self._send(500, b"always broken")
            elif path == "/forbidden":
                self._send(403, b"no")
            elif path == "/hang":
                # Accept the request and never answer; the client's read timeout must end it.
                mirror.release.wait(10)
            elif path == "/declared-oversize":
                self._send(200, b"x" * OVERSIZE)
            elif path == "/streamed-oversize":
                # No Content-Length: the body runs until the connection closes.
                self.send_response(200)
                self.end_headers()
                for _ in range(OVERSIZE // 256 + 1):
                    self.wfile.write(b"y" * 256)
            elif path == "/to-file":
                self._redirect("file:///etc/passwd")
            elif path == "/to-ftp":
                self._redirect("ftp://example.org/book.txt")
            elif path == "/loop":
                self._redirect("/loop")
            elif path == "/moved":
                self._redirect("/plain")
            elif path == "/plain":
                self._send(200, b"the plain text")
            else:
                self._send(404, b"not here")

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _redirect(self, location: str) -> None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@contextmanager
def serve() -> Iterator[Mirror]:
    """Run a mirror on a free port; release hanging handlers and stop it on exit."""
    state = Mirror()
    # A short poll interval keeps shutdown() (and so each test's teardown) fast.
    with serve_http(_handler(state), poll=0.02) as url:
        state.url = url
        try:
            yield state
        finally:
            state.release.set()
