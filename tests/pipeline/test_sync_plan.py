"""The sync plan against real folders: an emptied folder (a disk not mounted) removes nothing."""

from __future__ import annotations

from pathlib import Path

from pipeline.ingest.sync_plan import StoredSource, make_plan


def stored(path: Path, book: str) -> StoredSource:
    return StoredSource(str(path), path.name, "0" * 32, 10, 1, book)


def test_a_folder_holding_nothing_keeps_its_stored_books_and_says_so(tmp_path: Path) -> None:
    empty, full = tmp_path / "mounted-elsewhere", tmp_path / "notes"
    empty.mkdir()
    full.mkdir()
    (full / "kept.txt").write_text("A short note that stays.\n")
    books = {str(p): stored(p, b) for p, b in [(empty / "a.txt", "a"), (full / "gone.txt", "g")]}
    plan = make_plan([empty, full], books)
    # The file deleted from a folder that still holds documents is removed as usual...
    assert [s.label for s in plan.removed] == ["gone.txt"]
    # ...the empty folder's book is kept, with one line naming the folder.
    (line,) = [message for label, message in plan.unreadable if label == str(empty)]
    assert line.startswith(f"{empty}: the folder is empty but 1 of its files are stored")
    assert "\n" not in line
