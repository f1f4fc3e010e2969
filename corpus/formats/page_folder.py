"""A folder of page images as the bytes of one document: how a scanned book kept as `001.png`,
`002.png`, ... travels to a worker in one `fetch_book` message.

The client packs the folder's pages, in page order, as a header line, a JSON list of
`[file name, size]` pairs and a newline, then the files' bytes one after another:

    ragmill page folder 1\\n[["001.png", 48213], ["002.png", 51877]]\\n<bytes><bytes>

Nothing is compressed or decoded on the way (the images are read by the worker, under its pixel
limit), and the same pages always pack to the same bytes, so the book's content hash, which
names its pages' OCR texts in Redis and its stamp in a synced collection, changes only when a
page, its name or its place does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from corpus.errors import CorruptDocument

__all__ = ["MAGIC", "bundle_header", "pack_pages", "unpack_pages"]

MAGIC = b"ragmill page folder 1\n"
# Past this the header is not ours: 100,000 pages of long names fit well under it.
_MAX_HEADER = 16 * 2**20


def bundle_header(entries: Sequence[tuple[str, int]]) -> bytes:
    """The bytes before the pages: MAGIC and each page's file name and size, in page order."""
    listing = json.dumps([[name, size] for name, size in entries], ensure_ascii=False)
    return MAGIC + listing.encode("utf-8") + b"\n"


def pack_pages(pages: Sequence[tuple[str, bytes]]) -> bytes:
    """One document of `pages` (file name, image bytes), in page order."""
    header = bundle_header([(name, len(data)) for name, data in pages])
    return header + b"".join(data for _, data in pages)


def unpack_pages(data: bytes, name: str) -> list[tuple[str, bytes]]:
    """The (file name, image bytes) pairs packed in `data`; CorruptDocument naming `name` when
    the bytes do not add up."""
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + _MAX_HEADER)
    if not data.startswith(MAGIC) or end < 0:
        raise _corrupt(name, "no page list")
    try:
        listing = json.loads(data[len(MAGIC):end])
        entries = [(str(file), int(size)) for file, size in listing]
    except (ValueError, TypeError) as err:
        raise _corrupt(name, f"its page list does not read: {err}") from None
    if not entries or any(size < 0 for _, size in entries):
        raise _corrupt(name, "its page list is empty or wrong")
    start = end + 1
    if start + sum(size for _, size in entries) != len(data):
        raise _corrupt(name, "its pages are not the sizes its page list says")
    pages = []
    for file, size in entries:
        pages.append((file, data[start:start + size]))
        start += size
    return pages


def _corrupt(name: str, reason: str) -> CorruptDocument:
    return CorruptDocument(
        f"{name}: not a readable folder of page images ({reason}); send it again"
    )
