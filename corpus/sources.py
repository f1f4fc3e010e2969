"""Turning what a person typed (ids, files, folders, URLs) into sources we can fetch.

Local files are recognised by content (magic bytes, zip manifest), not only by extension;
files in a folder that are not documents are skipped and reported, not failed.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from corpus.errors import SourceError
from corpus.formats.detect import FORMATS, Format, detect_format, is_page_image

__all__ = ["Resolution", "Source", "read_local_file", "resolve", "resolve_sources", "sniff_file"]

SourceKind = Literal["gutenberg", "file", "url"]

# ASCII digits only: str.isdigit() also accepts superscripts and other scripts' digits.
_GUTENBERG_ID = re.compile(r"[0-9]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_SNIFF_BYTES = 4096
# Enough of an image to reach its size in the header, past a JPEG's EXIF block.
_IMAGE_HEADER_BYTES = 2**20
# When one folder holds a book in several formats they reach the pipeline in this order, and
# the pipeline keeps the first that registers a book id: the text edition wins.
_EDITION_ORDER = {
    name: rank for rank, name in enumerate(("txt", "epub", "html", "md", "docx", "pdf"))
}
_SUPPORTED = "pass TXT, Markdown, HTML, EPUB, PDF or DOCX"


@dataclass(frozen=True)
class Source:
    """One book to ingest: where it lives and how to name it to a person."""

    kind: SourceKind
    ref: str
    label: str


@dataclass
class Resolution:
    """What the inputs resolved to: sources to ingest, bad inputs, and files skipped.

    ``errors`` are ``(input, message)`` pairs; ``skipped`` are the display paths of files in
    folders that are not documents (images, archives, ``.DS_Store``).
    """

    sources: list[Source] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def resolve(args: Sequence[str]) -> Resolution:
    """Classify each argument into sources (deduplicated, in order), errors and skipped files.

    Errors are collected so a caller can report all bad inputs at once instead of stopping
    at the first.
    """
    result = Resolution()
    seen: set[tuple[str, str]] = set()
    for arg in args:
        try:
            found = _resolve_one(arg, result.skipped)
        except SourceError as err:
            result.errors.append((arg, str(err)))
            continue
        for source in found:
            key = (source.kind, source.ref)
            if key not in seen:
                seen.add(key)
                result.sources.append(source)
    return result


def resolve_sources(args: Sequence[str]) -> tuple[list[Source], list[tuple[str, str]]]:
    """The sources and errors of :func:`resolve`, for callers that do not report skips."""
    result = resolve(args)
    return result.sources, result.errors


def sniff_file(path: Path) -> Format | None:
    """The document format of a local file, read from its first bytes (and zip directory)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
        if head.startswith(b"PK"):
            # A zip's manifest sits in its central directory at the end; read only that.
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
            if "mimetype" in names or "META-INF/container.xml" in names:
                return "epub"
            if "word/document.xml" in names and "[Content_Types].xml" in names:
                return "docx"
            return None
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    return detect_format(head, path.name)


def _promises_document(path: Path) -> bool:
    """Named .epub, .docx or .pdf: a broken one is a bad book to report (the worker says what is
    wrong with it), not a stray file to skip."""
    return path.suffix.lower() in (".epub", ".docx", ".pdf")


def _page_image(path: Path) -> bool:
    """A PNG, JPEG or TIFF whose header reads: a scanned page, read with OCR when named on its
    own. In a folder an image is skipped: it is far more often an edition's illustration."""
    from corpus.formats.images import readable_image

    try:
        with path.open("rb") as handle:
            head = handle.read(_IMAGE_HEADER_BYTES)
    except OSError:
        return False
    return is_page_image(head) and readable_image(head)


def _resolve_one(arg: str, skipped: list[str]) -> list[Source]:
    """Resolve a single argument to one or more sources, or raise SourceError."""
    text = arg.strip()
    if _GUTENBERG_ID.fullmatch(text):
        return [Source("gutenberg", str(int(text)), arg)]
    scheme = _SCHEME.match(text)
    if scheme:
        return [_url_source(text, scheme.group(1).lower(), arg)]
    path = Path(text).expanduser()
    if path.is_file():
        if sniff_file(path) is None and not _promises_document(path) and not _page_image(path):
            raise SourceError(
                f"{arg}: a binary file, not a document format ragmill reads; {_SUPPORTED}"
            )
        return [Source("file", str(path.resolve()), arg)]
    if path.is_dir():
        return _folder_sources(path, arg, skipped)
    if "/" in text or "\\" in text or path.suffix:
        raise SourceError(f"{arg}: no such file or folder; check the path")
    raise SourceError(f"{arg}: not a Gutenberg id, an existing file or folder, or an http(s) URL")


def _url_source(url: str, scheme: str, arg: str) -> Source:
    """Accept http(s) URLs with a host; anything else could read local files or worse."""
    if scheme not in ("http", "https"):
        raise SourceError(f"{arg}: unsupported URL scheme {scheme!r}; use http:// or https://")
    if not urlsplit(url).netloc:
        raise SourceError(f"{arg}: URL has no host; write it as https://host/path")
    return Source("url", url, arg)


def _folder_sources(folder: Path, arg: str, skipped: list[str]) -> list[Source]:
    """Every document under ``folder``, recursively; the other files go to ``skipped``.

    Sorted by folder and name, with the editions of one book (same stem) text first.
    """
    found: list[tuple[tuple[str, str, int, str], Source]] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        kind = sniff_file(path)
        if kind is None and not _promises_document(path):
            skipped.append(_display_path(path))
            continue
        edition = _EDITION_ORDER[kind] if kind else len(_EDITION_ORDER)
        order = (str(path.parent), path.stem.lower(), edition, path.name)
        found.append((order, Source("file", str(path.resolve()), _display_path(path))))
    if not found:
        raise SourceError(
            f"{arg}: folder has no documents ({', '.join(FORMATS)}); point at a folder of books"
        )
    return [source for _, source in sorted(found, key=lambda item: item[0])]


def _display_path(path: Path) -> str:
    """The path relative to the working directory when it lies below it, else absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(absolute)


def read_local_file(path: Path, max_bytes: int) -> bytes:
    """Read a local book, refusing files larger than ``max_bytes``."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SourceError(
                f"{path}: file is {size} bytes, over the {max_bytes}-byte limit; "
                "split it or raise the limit"
            )
        with path.open("rb") as handle:
            # Read one byte past the cap: the file may have grown since stat().
            data = handle.read(max_bytes + 1)
    except FileNotFoundError as err:
        raise SourceError(f"{path}: no such file; check the path") from err
    except IsADirectoryError as err:
        raise SourceError(f"{path}: is a folder, not a file; pass the folder itself") from err
    except PermissionError as err:
        raise SourceError(f"{path}: permission denied; check the file's permissions") from err
    if len(data) > max_bytes:
        raise SourceError(
            f"{path}: file is over the {max_bytes}-byte limit; split it or raise the limit"
        )
    return data
