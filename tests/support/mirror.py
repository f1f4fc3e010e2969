"""A local HTTP mirror in the real Gutenberg layout, run in a thread, that counts requests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.bench.local_http import QuietHandler, serve_http
from tests.support.books import gutenberg_text


@dataclass
class Mirror:
    url: str
    root: Path
    requests: Counter[str] = field(default_factory=Counter)
    # Called with each request's path before it is answered (tests look at state at that moment).
    on_request: Callable[[str], None] | None = None

    def put(self, path: str, data: bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


@contextmanager
def serve_mirror(root: Path) -> Iterator[Mirror]:
    """Serve `root` on a free 127.0.0.1 port until the block ends."""
    mirror = Mirror(url="", root=root)

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            mirror.requests[self.path] += 1
            if mirror.on_request is not None:
                mirror.on_request(self.path)
            target = (root / self.path.lstrip("/")).resolve()
            if not target.is_relative_to(root.resolve()) or not target.is_file():
                self.send_error(404)
                return
            data = target.read_bytes()
            self.send_body(data)

    with serve_http(Handler) as url:
        mirror.url = url
        yield mirror


def publish_synthetic_books(mirror: Mirror) -> dict[str, bytes]:
    """Put books 1001-1003 on the mirror, each in a different layout and encoding."""
    published = {
        # Newest layout, UTF-8 with a BOM and CRLF line ends.
        "cache/epub/1001/pg1001.txt": b"\xef\xbb\xbf"
        + gutenberg_text("1001").text.replace("\n", "\r\n").encode("utf-8"),
        # Older UTF-8 layout.
        "files/1002/1002-0.txt": gutenberg_text("1002").text.encode("utf-8"),
        # Older Latin-1 layout, with a character that is not ASCII.
        "files/1003/1003-8.txt": gutenberg_text("1003")
        .text.replace("station master", "station maître")
        .encode("latin-1"),
    }
    for path, data in published.items():
        mirror.put(path, data)
    return {path.split("/")[-2]: data for path, data in published.items()}
