"""The errors `corpus` raises; every message is one line a person can act on.

CorpusError
├── SourceError            a reference we cannot use (bad id, missing file, unsafe path)
├── DownloadError          the network did not deliver (retries spent, too large, bad redirect)
│   └── NotFound           the mirror answered 404 on every layout
└── DecodeError            the bytes are not usable text (empty, binary, HTML where text was due)
    ├── UnsupportedFormat  not a document format we read (image, archive, other binary)
    ├── CorruptDocument    a document whose container is broken (truncated PDF, .epub not a zip)
    ├── ProtectedDocument  encrypted PDF or DRM-protected EPUB
    ├── NoTextLayer        a PDF with pages but no text (a scan)
    └── DocumentTooLarge   a document that unpacks past the size limit (zip bomb)
"""

from __future__ import annotations

__all__ = [
    "CorpusError",
    "CorruptDocument",
    "DecodeError",
    "DocumentTooLarge",
    "DownloadError",
    "NoTextLayer",
    "NotFound",
    "ProtectedDocument",
    "SourceError",
    "UnsupportedFormat",
]


class CorpusError(Exception):
    """Base class for every error raised while getting text into chunks."""


class SourceError(CorpusError):
    """A source reference that cannot be used as given."""


class DownloadError(CorpusError):
    """A download that failed after its retries, or was refused for safety."""


class NotFound(DownloadError):
    """A resource the server reports as missing on every place we looked."""


class DecodeError(CorpusError):
    """Bytes that are not text we can chunk."""


class UnsupportedFormat(DecodeError):
    """Bytes in no format we read: an image, an archive, some other binary."""


class CorruptDocument(DecodeError):
    """A document whose container or structure is broken or is not what its name says."""


class ProtectedDocument(DecodeError):
    """A document we may not read: an encrypted PDF or a DRM-protected EPUB."""


class NoTextLayer(DecodeError):
    """A PDF whose pages carry no text (a scan); it needs OCR first."""


class DocumentTooLarge(DecodeError):
    """A document that unpacks to more bytes than the limit allows."""
