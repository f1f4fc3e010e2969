"""Turning what a person typed (ids, files, folders, URLs) into sources we can fetch."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from corpus.errors import SourceError

__all__ = ["Source", "read_local_file", "resolve_sources"]

SourceKind = Literal["gutenberg", "file", "url"]

# ASCII digits only: str.isdigit() also accepts superscripts and other scripts' digits.
_GUTENBERG_ID = re.compile(r"[0-9]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True)
class Source:
    """One book to ingest: where it lives and how to name it to a person."""

    kind: SourceKind
    ref: str
    label: str


def resolve_sources(args: Sequence[str]) -> tuple[list[Source], list[tuple[str, str]]]:
    """Classify each argument; return the sources (deduplicated, in order) and the errors.

    Errors are ``(input, message)`` pairs so a caller can report all bad inputs at once
    instead of stopping at the first.
    """
    sources: list[Source] = []
    errors: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for arg in args:
        try:
            found = _resolve_one(arg)
        except SourceError as err:
            errors.append((arg, str(err)))
            continue
        for source in found:
            key = (source.kind, source.ref)
            if key not in seen:
                seen.add(key)
                sources.append(source)
    return sources, errors


def _resolve_one(arg: str) -> list[Source]:
    """Resolve a single argument to one or more sources, or raise SourceError."""
    text = arg.strip()
    if _GUTENBERG_ID.fullmatch(text):
        return [Source("gutenberg", str(int(text)), arg)]
    scheme = _SCHEME.match(text)
    if scheme:
        return [_url_source(text, scheme.group(1).lower(), arg)]
    path = Path(text).expanduser()
    if path.is_file():
        return [Source("file", str(path.resolve()), arg)]
    if path.is_dir():
        return _folder_sources(path, arg)
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


def _folder_sources(folder: Path, arg: str) -> list[Source]:
    """Every ``*.txt`` file under ``folder``, recursively, in sorted order."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".txt")
    if not files:
        raise SourceError(f"{arg}: folder has no .txt files; point at a folder of plain-text books")
    return [Source("file", str(p.resolve()), _display_path(p)) for p in files]


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
