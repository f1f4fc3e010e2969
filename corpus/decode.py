"""Turning downloaded bytes into clean text, refusing what is not a plain-text book."""

from __future__ import annotations

import re

from corpus.errors import DecodeError

__all__ = ["decode_text"]

_UTF8_BOM = b"\xef\xbb\xbf"
# How much of the start we inspect for binary or HTML content; enough to see past a BOM
# and a doctype without scanning a whole book.
_SNIFF_BYTES = 8192
_HTML_SNIFF_CHARS = 1024
# Plain text uses tab, newline, form feed and carriage return; other C0 controls are rare.
_TEXT_CONTROLS = frozenset(b"\t\n\x0b\x0c\r\x1b")
_MAX_CONTROL_SHARE = 0.10
_HTML_START = re.compile(r"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_NEWLINES = re.compile(r"\r\n?")


def decode_text(data: bytes, name: str) -> str:
    """Decode a book's bytes (UTF-8, else cp1252, else Latin-1) with LF line endings.

    Raises DecodeError naming ``name`` when the bytes are empty, binary or HTML.
    """
    data = data.removeprefix(_UTF8_BOM)
    if not data.strip():
        raise DecodeError(f"{name}: the file is empty; check that the source holds a book")
    if _looks_binary(data[:_SNIFF_BYTES]):
        raise DecodeError(f"{name}: looks like a binary file, not plain text; pass a .txt book")
    text = _decode(data)
    if _HTML_START.search(text[:_HTML_SNIFF_CHARS]):
        raise DecodeError(f"{name}: got an HTML page where plain text was expected; check the URL")
    if not text.strip():
        # Bytes like a lone no-break space survive the byte-level check above.
        raise DecodeError(f"{name}: the file holds only whitespace; check that it holds a book")
    return _NEWLINES.sub("\n", text)


def _looks_binary(head: bytes) -> bool:
    """True when the sample has NUL bytes or too many control characters for text."""
    if b"\x00" in head:
        return True
    controls = sum(
        1 for byte in head if (byte < 0x20 or byte == 0x7F) and byte not in _TEXT_CONTROLS
    )
    return controls > _MAX_CONTROL_SHARE * len(head)


def _decode(data: bytes) -> str:
    """Try the encodings Gutenberg files actually use, strictest first."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # cp1252 before Latin-1: "Latin-1" files often carry Windows quotes in 0x80-0x9F.
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # Latin-1 maps every byte, so this cannot fail.
        return data.decode("latin-1")
