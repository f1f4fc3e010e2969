"""The errors `corpus` raises; every message is one line a person can act on.

CorpusError
├── SourceError     a reference we cannot use (bad id, missing file, unsafe path)
├── DownloadError   the network did not deliver (retries spent, too large, bad redirect)
│   └── NotFound    the mirror answered 404 on every layout
└── DecodeError     the bytes are not usable text (empty, binary, HTML)
"""

from __future__ import annotations

__all__ = ["CorpusError", "DecodeError", "DownloadError", "NotFound", "SourceError"]


class CorpusError(Exception):
    """Base class for every error raised while getting text into chunks."""


class SourceError(CorpusError):
    """A source reference that cannot be used as given."""


class DownloadError(CorpusError):
    """A download that failed after its retries, or was refused for safety."""


class NotFound(DownloadError):
    """A resource the server reports as missing on every place we looked."""


class DecodeError(CorpusError):
    """Bytes that are not plain text we can chunk."""
