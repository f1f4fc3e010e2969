"""Small HTTP servers for tests: a handler class served from a thread on a free local port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test output free of access-log lines."""

    def log_message(self, *args: object) -> None:
        pass


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
