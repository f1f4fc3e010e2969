"""Turning a text file's bytes into a string: BOM, then the declared charset, then detection.

UTF-8 is tried right after a declaration because valid UTF-8 with non-ASCII bytes is almost never
anything else. Detection (charset-normalizer) needs a sample with enough non-ASCII bytes to be
trusted; on a few stray bytes it guesses wildly, so short runs fall back to cp1252 and Latin-1,
the codecs old Gutenberg files actually use.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from corpus.errors import DecodeError

__all__ = ["declared_charset", "decode_bytes", "decode_text", "looks_binary"]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# How much of the start we inspect for binary content, declarations or HTML.
_SNIFF_BYTES = 8192
_HTML_SNIFF_CHARS = 1024
# Plain text uses tab, newline, form feed and carriage return; other C0 controls are rare.
_TEXT_CONTROLS = frozenset(b"\t\n\x0b\x0c\r\x1b")
_MAX_CONTROL_SHARE = 0.10
_HTML_START = re.compile(r"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_NEWLINES = re.compile(r"\r\n?")
# Gutenberg's header line, an HTML meta charset (both forms) and an XML declaration.
_DECLARATIONS = (
    re.compile(rb"^character set encoding:[ \t]*([A-Za-z0-9._:-]+)", re.IGNORECASE | re.MULTILINE),
    re.compile(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE),
    re.compile(rb"<\?xml[^>]+encoding=[\"']([A-Za-z0-9._:-]+)[\"']", re.IGNORECASE),
)
# Detection on fewer non-ASCII bytes than this is a coin toss (2 bytes can "be" UTF-16).
_MIN_DETECTION_BYTES = 24
_DETECTION_SAMPLE = 256 * 1024
# Codecs that decode every byte say nothing when they succeed; a declaration naming one
# yields to valid UTF-8.
_PERMISSIVE = frozenset({"latin-1", "iso8859-1", "cp1252"})


def decode_text(data: bytes, name: str) -> str:
    """Decode a plain-text book's bytes with LF line endings.

    Raises DecodeError naming ``name`` when the bytes are empty, binary or HTML.
    """
    if not data.strip() or not _strip_bom(data)[0].strip():
        raise DecodeError(f"{name}: the file is empty; check that the source holds a book")
    if _bom_codec(data) is None and looks_binary(data[:_SNIFF_BYTES]):
        raise DecodeError(f"{name}: looks like a binary file, not plain text; pass a .txt book")
    text = decode_bytes(data)
    if _HTML_START.search(text[:_HTML_SNIFF_CHARS]):
        raise DecodeError(f"{name}: got an HTML page where plain text was expected; check the URL")
    if not text.strip():
        # Bytes like a lone no-break space survive the byte-level check above.
        raise DecodeError(f"{name}: the file holds only whitespace; check that it holds a book")
    return text


def decode_bytes(data: bytes) -> str:
    """Decode any text bytes (BOM, declaration, UTF-8, detection, cp1252, Latin-1), LF endings."""
    body, codec = _strip_bom(data)
    if codec is None:
        codec = _choose_codec(body)
    return _NEWLINES.sub("\n", body.decode(codec, errors="replace"))


def declared_charset(head: bytes) -> str | None:
    """The codec a file's own declaration names, when Python knows it."""
    for pattern in _DECLARATIONS:
        match = pattern.search(head)
        if match is not None:
            try:
                return codecs.lookup(match.group(1).decode("ascii")).name
            except (LookupError, UnicodeDecodeError):
                continue
    return None


def looks_binary(head: bytes) -> bool:
    """True when the sample has NUL bytes or too many control characters for text."""
    if b"\x00" in head:
        return True
    controls = sum(
        1 for byte in head if (byte < 0x20 or byte == 0x7F) and byte not in _TEXT_CONTROLS
    )
    return controls > _MAX_CONTROL_SHARE * len(head)


def _bom_codec(data: bytes) -> str | None:
    return next((codec for bom, codec in _BOMS if data.startswith(bom)), None)


def _strip_bom(data: bytes) -> tuple[bytes, str | None]:
    codec = _bom_codec(data)
    if codec is None:
        return data, None
    bom = next(bom for bom, name in _BOMS if name == codec)
    return data[len(bom) :], codec


def _choose_codec(data: bytes) -> str:
    """The first codec in order of trust that decodes ``data`` without error."""
    declared = declared_charset(data[:_SNIFF_BYTES])
    utf8 = _decodes(data, "utf-8")
    if declared and _decodes(data, declared) and not (declared in _PERMISSIVE and utf8):
        return declared
    if utf8:
        return "utf-8"
    detected = _detect(data)
    if detected:
        return detected
    # cp1252 before Latin-1: "Latin-1" files often carry Windows quotes in 0x80-0x9F.
    return "cp1252" if _decodes(data, "cp1252") else "latin-1"


def _detect(data: bytes) -> str | None:
    """charset-normalizer's pick, when the sample holds enough non-ASCII bytes to judge."""
    sample = data[:_DETECTION_SAMPLE]
    if sum(1 for byte in sample if byte >= 0x80) < _MIN_DETECTION_BYTES:
        return None
    best = from_bytes(sample).best()
    if best is None:
        return None
    codec = codecs.lookup(best.encoding).name
    return codec if _decodes(data, codec) else None


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True
