"""A local HTTP mirror in the Gutenberg layout that serves the bench's books."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pipeline.bench.local_http import QuietHandler, serve_http

# The newest Gutenberg layout; the downloader tries it first.
BOOK_PATH = re.compile(r"^/cache/epub/(\d+)/pg(\d+)\.txt$")


@contextmanager
def serve_books(lookup: Callable[[str], bytes | None]) -> Iterator[str]:
    """Serve `lookup(id)` at /cache/epub/<id>/pg<id>.txt on 127.0.0.1; yields the base URL."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            match = BOOK_PATH.match(self.path)
            data = lookup(match.group(1)) if match and match[1] == match[2] else None
            if data is None:
                self.send_error(404)
                return
            self.send_body(data)

    with serve_http(Handler) as url:
        yield url
