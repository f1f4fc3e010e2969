"""A local HTTP mirror in the Gutenberg layout that serves the bench's books."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The newest Gutenberg layout; the downloader tries it first.
BOOK_PATH = re.compile(r"^/cache/epub/(\d+)/pg(\d+)\.txt$")


@contextmanager
def serve_books(lookup: Callable[[str], bytes | None]) -> Iterator[str]:
    """Serve `lookup(id)` at /cache/epub/<id>/pg<id>.txt on 127.0.0.1; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            match = BOOK_PATH.match(self.path)
            data = lookup(match.group(1)) if match and match[1] == match[2] else None
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="bench-mirror", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
