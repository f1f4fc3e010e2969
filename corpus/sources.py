"""Turning what a person typed (ids, files, folders, URLs) into sources we can fetch.

Local files are recognised by content (magic bytes, zip manifest), not only by extension;
files in a folder that are not documents are skipped and reported, not failed.

A folder of page images is one book (a scanned book kept as `001.png`, `002.png`, ...): a folder
whose files that are documents are all page images (PNG, JPEG, TIFF), two or more, unless its
parent folder holds an HTML file (then they are an HTML edition's illustrations). Its pages are
its images in natural name order (`2` before `10`, `001` beside `1`), and it is sent as one
document (corpus/formats/page_folder.py). In any other folder an image is skipped: it is far
more often an edition's illustration or a cover than a page to read.
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
from corpus.formats.page_folder import pack_pages

__all__ = [
    "Resolution",
    "Source",
    "natural_order",
    "page_folder",
    "read_local_file",
    "resolve",
    "resolve_sources",
    "sniff_file",
]

SourceKind = Literal["gutenberg", "file", "url"]

# ASCII digits only: str.isdigit() also accepts superscripts and other scripts' digits.
_GUTENBERG_ID = re.compile(r"[0-9]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_SNIFF_BYTES = 4096
# Enough of a file to tell a PNG, JPEG or TIFF by its magic.
_IMAGE_MAGIC_BYTES = 8
# When one folder holds a book in several formats they reach the pipeline in this order, and
# the pipeline keeps the first that registers a book id: the text edition wins.
_EDITION_ORDER = {
    name: rank for rank, name in enumerate(("txt", "epub", "html", "md", "docx", "pdf"))
}
_SUPPORTED = "pass TXT, Markdown, HTML, EPUB, PDF or DOCX"
# A folder of images beside a file with one of these suffixes holds its illustrations.
_HTML_SUFFIXES = (".htm", ".html", ".xhtml")
_DIGITS = re.compile(r"([0-9]+)")


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


def natural_order(name: str) -> tuple[tuple[int, str], ...]:
    """A sort key that orders the numbers in file names by value: `2` before `10`, and `001`
    beside `1` (then by the digits as written)."""
    parts = _DIGITS.split(name.lower())
    # Splitting on a captured group puts the digit runs at the odd places.
    return tuple((int(part), part) if i % 2 else (0, part) for i, part in enumerate(parts))


def page_folder(folder: Path) -> list[Path] | None:
    """The pages of `folder`, in page order, when it is a book of page images (module
    docstring), else None."""
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file())
    except OSError:
        return None
    documents, images, _ = _sort_files(files)
    return _book_pages(folder, documents, images)


def _book_pages(
    folder: Path, documents: dict[Path, Format | None], images: list[Path]
) -> list[Path] | None:
    if documents or len(images) < 2 or _beside_html(folder):
        return None
    return sorted(images, key=lambda path: (natural_order(path.name), path.name))


def _beside_html(folder: Path) -> bool:
    """Whether the folder's parent holds an HTML file: the folder is an HTML edition's images
    (a Gutenberg HTML edition, an unpacked EPUB)."""
    try:
        return any(
            p.suffix.lower() in _HTML_SUFFIXES and p.is_file() for p in folder.parent.iterdir()
        )
    except OSError:
        return False


def _sort_files(
    files: list[Path],
) -> tuple[dict[Path, Format | None], list[Path], list[Path]]:
    """The documents among `files` (with their format; None for a .pdf, .epub or .docx that
    does not read as one), the page images, and the rest."""
    documents: dict[Path, Format | None] = {}
    images: list[Path] = []
    others: list[Path] = []
    for path in files:
        kind = sniff_file(path)
        if kind is not None or _promises_document(path):
            documents[path] = kind
        elif _page_image(path):
            images.append(path)
        else:
            others.append(path)
    return documents, images, others


def _page_image(path: Path) -> bool:
    """A PNG, JPEG or TIFF whose header reads: a scanned page, read with OCR when named on its
    own or when its folder is a book of page images. Only the header is read."""
    from corpus.formats.images import readable_image

    try:
        with path.open("rb") as handle:
            if not is_page_image(handle.read(_IMAGE_MAGIC_BYTES)):
                return False
            handle.seek(0)
            return readable_image(handle)
    except OSError:
        return False


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
    """Every document under ``folder``, recursively, and every folder of page images in it (one
    source each); the other files go to ``skipped``.

    Sorted by folder and name, with the editions of one book (same stem) text first.
    """
    found: list[tuple[tuple[str, str, int, str], Source]] = []
    by_folder: dict[Path, list[Path]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        by_folder.setdefault(path.parent, []).append(path)
    passed: list[Path] = []
    last = len(_EDITION_ORDER)
    for directory, files in by_folder.items():
        documents, images, others = _sort_files(files)
        if _book_pages(directory, documents, images) is not None:
            order = (str(directory.parent), directory.name.lower(), last, directory.name)
            found.append(
                (order, Source("file", str(directory.resolve()), _display_path(directory)))
            )
            images = []
        passed += images + others
        for path, kind in documents.items():
            edition = _EDITION_ORDER.get(kind, last) if kind else last
            order = (str(path.parent), path.stem.lower(), edition, path.name)
            found.append((order, Source("file", str(path.resolve()), _display_path(path))))
    skipped += [_display_path(path) for path in sorted(passed)]
    if not found:
        raise SourceError(
            f"{arg}: folder has no documents ({', '.join(FORMATS)}) nor a book of page images "
            "(a folder of two or more, not beside an HTML file); point at a folder of books"
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
    """Read a local book, refusing one larger than ``max_bytes``: a file's bytes, or a folder of
    page images packed as one document (corpus/formats/page_folder.py)."""
    if path.is_dir() and (pages := page_folder(path)) is not None:
        return _read_page_folder(path, pages, max_bytes)
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


def _read_page_folder(folder: Path, pages: list[Path], max_bytes: int) -> bytes:
    """The folder's pages packed in page order, refusing more than ``max_bytes`` of them."""
    try:
        total = sum(page.stat().st_size for page in pages)
    except OSError as err:
        raise SourceError(
            f"{folder}: a page went away while it was read ({err.strerror or err}); try again"
        ) from err
    if total > max_bytes:
        raise SourceError(
            f"{folder}: its {len(pages)} page images add up to {total} bytes, over the "
            f"{max_bytes}-byte limit; split the folder or raise the limit"
        )
    read = [(page.name, read_local_file(page, max_bytes)) for page in pages]
    if sum(len(data) for _, data in read) > max_bytes:
        raise SourceError(
            f"{folder}: its page images add up to more than the {max_bytes}-byte limit; split "
            "the folder or raise the limit"
        )
    return pack_pages(read)
