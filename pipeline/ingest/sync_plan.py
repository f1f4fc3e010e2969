"""What a sync would do: the folders' documents now against what the collection holds for them.

A file is identified by its absolute path and its content (sha256 of its bytes). What the
collection holds for it is read from the stamps a sync leaves on every chunk of a file it
stored (pipeline/ingest/sync_store.py): the path, the content hash, and the size and
modification time it had, so a file whose size and time did not change is not read again.

    added      a path not stored, whose content is not stored under a vanished path either
    changed    a stored path whose content differs (or whose stored chunks disagree)
    moved      a path not stored whose content is stored under a path that no longer exists
    removed    a stored path under the folders whose file no longer exists
    unchanged  a stored path with the same content

A folder of page images is one book (corpus/sources.py), so it is one source here: its path is
the folder's, its content hash that of its pages packed in page order (names and bytes: the
document its fetch carries), its size the sum of its pages' and its time the latest of the
folder's and its pages' (adding, removing or renaming a page changes the folder's). A changed
page is a changed book, read again whole; its pages already read come from Redis, not OCR.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from corpus.formats.page_folder import bundle_header
from corpus.sources import page_folder, resolve
from pipeline.errors import UsageError

READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class LocalFile:
    """A document in a synced folder as it is now."""

    path: str  # absolute
    label: str  # as a person names it (relative to the working directory when below it)
    size: int
    mtime_ns: int
    content_hash: str = ""


@dataclass(frozen=True)
class StoredSource:
    """A file as the collection holds it: read from the stamps on its first chunk(s)."""

    path: str
    label: str
    content_hash: str
    size: int
    mtime_ns: int
    book_id: str
    # First chunks stamped with this path: more than one means an earlier sync of a changed
    # file stopped before it cleaned up, so the path is synced again.
    copies: int = 1

    def matches(self, local: LocalFile) -> bool:
        """Same size and modification time: the content is taken as unchanged, unread."""
        return self.copies == 1 and (self.size, self.mtime_ns) == (local.size, local.mtime_ns)


@dataclass(frozen=True)
class Move:
    """A stored file found again under another path, with the same content."""

    old: StoredSource
    new: LocalFile


@dataclass
class SyncPlan:
    """What one sync does, in the order it does it: moves, adds and changes, then removals."""

    folders: list[str]
    added: list[LocalFile] = field(default_factory=list)
    changed: list[LocalFile] = field(default_factory=list)
    moved: list[Move] = field(default_factory=list)
    removed: list[StoredSource] = field(default_factory=list)
    unchanged: list[LocalFile] = field(default_factory=list)
    # Unchanged content under a new modification time: only the stamp is written again.
    touched: list[LocalFile] = field(default_factory=list)
    # (file, one-line reason): files that could not be read now; what is stored stays.
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    # Files of the folders that are not documents.
    skipped: list[str] = field(default_factory=list)

    @property
    def to_ingest(self) -> list[LocalFile]:
        return self.added + self.changed

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added), "changed": len(self.changed), "moved": len(self.moved),
            "removed": len(self.removed), "unchanged": len(self.unchanged) + len(self.touched),
            "unreadable": len(self.unreadable),
        }

    def as_dict(self) -> dict[str, object]:
        return {
            "folders": self.folders,
            **self.counts(),
            "files": {
                "added": [f.label for f in self.added],
                "changed": [f.label for f in self.changed],
                "moved": [{"from": m.old.label, "to": m.new.label} for m in self.moved],
                "removed": [s.label for s in self.removed],
            },
            "unreadable": dict(self.unreadable),
        }


def check_folders(folders: Sequence[str]) -> list[Path]:
    """The folders as absolute paths; UsageError naming the first that is not a folder."""
    if not folders:
        raise UsageError("nothing to sync; name one or more folders")
    found = []
    for folder in folders:
        path = Path(folder).expanduser()
        if not path.is_dir():
            what = "is a file, not a folder" if path.exists() else "no such folder"
            raise UsageError(f"{folder}: {what}; sync takes folders of books")
        found.append(path.resolve())
    return found


def scan(
    folders: Sequence[Path], ignore: Path | None = None
) -> tuple[list[LocalFile], list[str], list[tuple[str, str]]]:
    """The documents under `folders` (each once; none under `ignore`), the files skipped as not
    documents, and the files that could not be looked at."""
    files: dict[str, LocalFile] = {}
    skipped: list[str] = []
    unreadable: list[tuple[str, str]] = []
    for folder in folders:
        resolution = resolve([str(folder)])  # an empty folder is an error there, none here
        skipped += resolution.skipped
        for source in resolution.sources:
            if ignore is not None and Path(source.ref).is_relative_to(ignore):
                continue
            try:
                size, mtime_ns = fingerprint(source.ref)
            except OSError as exc:
                unreadable.append((source.label, f"{source.label}: {exc.strerror or exc}"))
                continue
            files.setdefault(source.ref, LocalFile(source.ref, source.label, size, mtime_ns))
    return list(files.values()), skipped, unreadable


def fingerprint(path: str) -> tuple[int, int]:
    """A source's size and modification time (ns): a file's own, a page folder's as the module
    docstring says; OSError when it cannot be looked at."""
    pages = _pages(path)
    if pages is None:
        stat = Path(path).stat()
        return stat.st_size, stat.st_mtime_ns
    stats = [Path(path).stat(), *(page.stat() for page in pages)]
    return sum(s.st_size for s in stats[1:]), max(s.st_mtime_ns for s in stats)


def content_hash(path: str) -> str:
    """sha256 of the file's bytes (hex, 32 characters), or of a page folder's pages as its
    fetch packs them; OSError when it cannot be read."""
    digest = hashlib.sha256()
    pages = _pages(path)
    files = [Path(path)] if pages is None else pages
    if pages is not None:
        digest.update(bundle_header([(page.name, page.stat().st_size) for page in pages]))
    for file in files:
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(READ_BLOCK), b""):
                digest.update(block)
    return digest.hexdigest()[:32]


def still_there(path: str) -> bool:
    """Whether a stored source's path still holds it: a file, or a folder that is still a book
    of page images (one given a document of another kind is no longer that book)."""
    if Path(path).is_dir():
        return page_folder(Path(path)) is not None
    return Path(path).is_file()


def _pages(path: str) -> list[Path] | None:
    """A page folder's pages, None for a file; OSError for a folder no longer a page folder."""
    if not Path(path).is_dir():
        return None
    pages = page_folder(Path(path))
    if pages is None:
        raise NotADirectoryError(f"{path} is no longer a folder of page images")
    return pages


def under(path: str, folders: Iterable[Path]) -> bool:
    return any(Path(path).is_relative_to(folder) for folder in folders)


def make_plan(
    folders: Sequence[Path], stored: dict[str, StoredSource], ignore: Path | None = None
) -> SyncPlan:
    """Compare the folders now with `stored` (the synced sources under them, by path).

    `ignore` is the local stack's data directory: its logs must not be read as books when it
    lies under a synced folder."""
    files, skipped, unreadable = scan(folders, ignore)
    plan = SyncPlan([str(f) for f in folders], skipped=skipped, unreadable=unreadable)
    new = classify(files, stored, plan)
    pair_moves(new, stored, {f.path for f in files}, plan)
    keep_empty_folders(folders, files, skipped, plan)
    return plan


def keep_empty_folders(
    folders: Sequence[Path], files: list[LocalFile], skipped: list[str], plan: SyncPlan
) -> None:
    """A named folder that holds nothing at all while its books are stored is more likely a
    disk not mounted than a library emptied: its books stay, with one line saying why."""
    for folder in folders:
        if any(under(f.path, [folder]) for f in files) or any(
            under(s, [folder]) for s in skipped
        ):
            continue
        kept = [s for s in plan.removed if under(s.path, [folder])]
        if not kept:
            continue
        plan.removed = [s for s in plan.removed if s not in kept]
        plan.unreadable.append((str(folder), (
            f"{folder}: the folder is empty but {len(kept)} of its files are stored; nothing "
            "was removed (is its disk mounted?); to empty the library, `ragmill delete` its "
            "books"
        )))


def classify(
    files: list[LocalFile], stored: dict[str, StoredSource], plan: SyncPlan
) -> list[LocalFile]:
    """Sort the stored paths into unchanged, touched and changed (reading only files whose size
    or time moved); returns the paths not stored, hashed."""
    new: list[LocalFile] = []
    for local in files:
        known = stored.get(local.path)
        if known is not None and known.matches(local):
            plan.unchanged.append(local)
            continue
        try:
            local = LocalFile(**{**local.__dict__, "content_hash": content_hash(local.path)})
        except OSError as exc:
            plan.unreadable.append((local.label, f"{local.label}: {exc.strerror or exc}"))
            continue
        if known is None:
            new.append(local)
        elif known.content_hash == local.content_hash and known.copies == 1:
            plan.touched.append(local)
        else:
            plan.changed.append(local)
    return new


def pair_moves(
    new: list[LocalFile], stored: dict[str, StoredSource], present: set[str], plan: SyncPlan
) -> None:
    """A new path whose content is stored under a path now gone is a move; the other new paths
    are added and the other gone paths removed."""
    gone: dict[str, list[StoredSource]] = {}
    for path, source in sorted(stored.items()):
        if path not in present and not still_there(path):
            gone.setdefault(source.content_hash, []).append(source)
    for local in new:
        olds = gone.get(local.content_hash)
        if olds and olds[0].copies == 1:
            plan.moved.append(Move(olds.pop(0), local))
        else:
            plan.added.append(local)
    plan.removed = [s for sources in gone.values() for s in sources]
