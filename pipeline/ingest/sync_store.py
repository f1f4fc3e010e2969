"""What a sync reads and writes in the collection itself: the stamps that say which file a
book's chunks came from, moves (re-pointing stored chunks, vectors kept), and removals.

A sync stamps every chunk of a file it stored with `source_path`, `content_hash`, `file_size`,
`file_mtime_ns` and `synced`. The stamp is written only after the file's chunks have all landed,
and the first chunk last, so a first chunk carrying a stamp means its whole file is stored: the
state of a synced folder lives in the collection, and an interrupted sync is finished by the
next one. Chroma merges metadata on update and upsert, so a stamp is added to what the workers
wrote, not put in its place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from corpus.book import local_book_id
from pipeline.ingest.sync_plan import LocalFile, Move, StoredSource, under

PATH, HASH, SIZE, MTIME, SYNCED = (
    "source_path", "content_hash", "file_size", "file_mtime_ns", "synced"
)
# Chunks per Chroma request when re-pointing or stamping (well below Chroma's batch limit).
PAGE = 1000
# Called after each page written: a sync renews its lock there, so a book of any size keeps it.
Callback = Callable[[], None]


def _nothing() -> None:
    pass


def stored_sources(collection: Any, folders: Sequence[Path]) -> dict[str, StoredSource]:
    """The synced files under `folders` the collection holds, by absolute path.

    Reads one metadata record per book (its first chunk), not every chunk.
    """
    got = collection.get(where={"$and": [{"position": 0}, {SYNCED: True}]}, include=["metadatas"])
    found: dict[str, StoredSource] = {}
    for m in got["metadatas"] or []:
        path = m.get(PATH) if m else None
        if not isinstance(path, str) or not under(path, folders):
            continue
        if path in found:
            found[path] = replace(found[path], copies=found[path].copies + 1)
            continue
        found[path] = StoredSource(
            path=path, label=str(m.get("source", path)), content_hash=str(m.get(HASH, "")),
            size=int(m.get(SIZE, -1)), mtime_ns=int(str(m.get(MTIME, "-1"))),
            book_id=str(m.get("book_id", "")),
        )
    return found


def stamp_of(local: LocalFile) -> dict[str, Any]:
    # The modification time in nanoseconds is kept as text: it is a key, never compared.
    return {PATH: local.path, HASH: local.content_hash, SIZE: local.size,
            MTIME: str(local.mtime_ns), SYNCED: True, "source": local.label}


def first_chunk_last(ids: list[str], metadatas: list[Any]) -> list[int]:
    """Row order for writes: the first chunk (position 0) last, so its stamp means 'all done'."""
    return sorted(range(len(ids)), key=lambda i: (metadatas[i] or {}).get("position") == 0)


def stamp(collection: Any, book_id: str, local: LocalFile, on_page: Callback = _nothing) -> int:
    """Stamp every chunk of `book_id` as coming from `local`; drop chunks of the same path with
    older content (a changed file read as another book). Returns the chunks stamped."""
    got = collection.get(where={"book_id": book_id}, include=["metadatas"])
    ids, metadatas = list(got["ids"]), list(got["metadatas"] or [])
    order = [ids[i] for i in first_chunk_last(ids, metadatas)]
    mark = stamp_of(local)
    for start in range(0, len(order), PAGE):
        page = order[start:start + PAGE]
        collection.update(ids=page, metadatas=[mark] * len(page))
        on_page()
    collection.delete(where={"$and": [{PATH: local.path}, {HASH: {"$ne": local.content_hash}}]})
    return len(ids)


def restamp(collection: Any, local: LocalFile) -> None:
    """Record a new size and modification time for a file whose content did not change."""
    got = collection.get(where={PATH: local.path}, include=["metadatas"])
    ids, metadatas = list(got["ids"]), list(got["metadatas"] or [])
    order = [ids[i] for i in first_chunk_last(ids, metadatas)]
    for start in range(0, len(order), PAGE):
        page = order[start:start + PAGE]
        collection.update(ids=page, metadatas=[stamp_of(local)] * len(page))


def moved_book_id(old: StoredSource, new: LocalFile) -> str:
    """The book id the moved file gets: a file named by its path (no Gutenberg number) gets the
    id ingesting it at its new path would give; a Gutenberg book keeps its number."""
    if old.book_id == local_book_id(Path(old.path).name, old.path):
        return local_book_id(Path(new.path).name, new.path)
    return old.book_id


def repoint(collection: Any, move: Move, on_page: Callback = _nothing) -> int:
    """Move a stored file's chunks to its new path: same vectors and texts, new ids when the
    book id follows the path, new source metadata. Nothing is embedded. Returns the chunks."""
    old, new = move.old, move.new
    got = collection.get(where={PATH: old.path}, include=["embeddings", "documents", "metadatas"])
    ids, metadatas = list(got["ids"]), list(got["metadatas"] or [])
    book_id = moved_book_id(old, new)
    order = first_chunk_last(ids, metadatas)
    rows = [i for i in order if metadatas[i].get("book_id") == old.book_id]
    new_ids = [book_id + ids[i][len(old.book_id):] for i in rows]
    renamed_title = Path(old.path).name
    new_meta = [
        {**metadatas[i], **stamp_of(new), "book_id": book_id,
         **({"title": Path(new.path).name} if metadatas[i].get("title") == renamed_title else {})}
        for i in rows
    ]
    for start in range(0, len(rows), PAGE):
        part = rows[start:start + PAGE]
        collection.upsert(
            ids=new_ids[start:start + PAGE],
            embeddings=[got["embeddings"][i] for i in part],
            documents=[got["documents"][i] for i in part],
            metadatas=new_meta[start:start + PAGE],
        )
        on_page()
    stale = sorted(set(ids) - set(new_ids))
    for start in range(0, len(stale), PAGE):
        collection.delete(ids=stale[start:start + PAGE])
    return len(rows)


def remove(collection: Any, path: str) -> int:
    """Delete every chunk stamped with `path`; returns how many there were."""
    ids = list(collection.get(where={PATH: path}, include=[])["ids"])
    for start in range(0, len(ids), PAGE):
        collection.delete(ids=ids[start:start + PAGE])
    return len(ids)
