"""A request handler class served from a thread on a free 127.0.0.1 port: the bench's
Gutenberg mirror and the test servers (mirror, chat and embeddings endpoints) use it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that writes no access-log lines."""

    def log_message(self, *args: object) -> None:
        pass

    def send_body(
        self,
        data: bytes,
        content_type: str = "text/plain; charset=utf-8",
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer with `data` as the whole response body, and any further `headers`."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def serve_http(handler: type[BaseHTTPRequestHandler], *, poll: float = 0.5) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 until the block ends; yields the base URL.

    `poll` is how often the server looks for shutdown; a short one makes teardown quick.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(poll,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
