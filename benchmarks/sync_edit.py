"""Chunks embedded again after a one-paragraph edit, and after a rename, of a long real book.

    python -m benchmarks.sync_edit                      # the longest book of the shared corpus
    python -m benchmarks.sync_edit --book path/to/book.txt --json

Copies the book into a fresh folder, syncs it into a fresh collection through a local stack of
its own (redis-server, Chroma server, io and embed workers, as `ragmill ingest` starts), changes
one word in a paragraph in the middle, syncs again, adds a paragraph a quarter in (a chunk
more: every chunk after it gets a new position, so a new id), syncs again, renames the file, syncs
again, and reports for each sync the chunks whose ids changed (what an ingest sends to the embed
queue), how many of those the model encoded and how many took a stored vector (tasks/reuse.py),
and the seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from pipeline.ingest.sync import SyncResult, sync
from pipeline.stack.local import LocalStack, StackPlan
from tasks.settings import Settings

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "gutenberg"


def longest_book() -> Path:
    return max(CORPUS.glob("pg*.txt"), key=lambda p: p.stat().st_size)


def edit_one_paragraph(path: Path) -> str:
    """Change one word of the paragraph in the middle of the book; returns the old paragraph's
    first words, to say where."""
    paragraphs = path.read_text(encoding="utf-8").split("\n\n")
    middle = len(paragraphs) // 2
    while len(paragraphs[middle].split()) < 30:
        middle += 1
    words = paragraphs[middle].split(" ")
    where = " ".join(words[:6])
    words[len(words) // 2] = "EDITED"
    paragraphs[middle] = " ".join(words)
    path.write_text("\n\n".join(paragraphs), encoding="utf-8")
    return where


def add_a_paragraph(path: Path) -> None:
    """Add a paragraph of about 160 words a quarter into the book: the book gets a chunk more,
    so every chunk after it has a new position, and a new id (ids carry positions)."""
    paragraphs = path.read_text(encoding="utf-8").split("\n\n")
    at = len(paragraphs) // 4
    while len(paragraphs[at].split()) < 30:
        at += 1
    sentence = "This paragraph was not in the book before, and an edition added it here. "
    paragraphs.insert(at, sentence * 12)
    path.write_text("\n\n".join(paragraphs), encoding="utf-8")


def row(step: str, result: SyncResult) -> dict[str, object]:
    data = result.as_dict()
    sent = result.embedded + result.reused
    return {
        "step": step, "changed": data["changed"], "moved": data["moved"],
        "added": data["added"], "chunks_already_stored": data["chunks_already_stored"],
        "chunks_sent_to_embed": sent, "chunks_embedded": result.embedded,
        "chunks_reused": result.reused, "chunks_moved": result.moved_chunks,
        "seconds": round(result.seconds, 1),
    }


def run(book: Path, workers: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="sync-edit-") as tmp:
        root = Path(tmp)
        folder = root / "library"
        folder.mkdir()
        copy = folder / book.name
        shutil.copy(book, copy)
        copy.chmod(0o644)
        data_dir = root / "data"
        with LocalStack(data_dir, StackPlan(embed_concurrency=workers)) as info:
            settings = Settings.from_env().with_changes(
                redis_url=info.redis_url, chroma_url=info.chroma_url, data_dir=data_dir,
                collection="sync-edit",
            )
            rows = [row("first sync", sync([str(folder)], settings))]
            where = edit_one_paragraph(copy)
            rows.append(row("one word edited", sync([str(folder)], settings)))
            add_a_paragraph(copy)
            rows.append(row("one paragraph added", sync([str(folder)], settings)))
            copy.rename(folder / f"renamed-{book.name}")
            rows.append(row("renamed", sync([str(folder)], settings)))
    return {"book": book.name, "bytes": book.stat().st_size, "edited": where, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--book", type=Path, default=None, help="default: the longest pg*.txt")
    parser.add_argument("--workers", type=int, default=2, help="embed processes")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    found = run(args.book or longest_book(), args.workers)
    if args.json:
        print(json.dumps(found, indent=2))
        return
    print(f"{found['book']} ({found['bytes']} bytes); edited the paragraph '{found['edited']}…'")
    print(f"{'step':<22}{'sent':>8}{'embedded':>10}{'reused':>8}{'moved':>8}{'seconds':>9}")
    for r in found["rows"]:  # type: ignore[attr-defined]
        print(f"{r['step']:<22}{r['chunks_sent_to_embed']:>8}{r['chunks_embedded']:>10}"
              f"{r['chunks_reused']:>8}{r['chunks_moved']:>8}{r['seconds']:>9}")


if __name__ == "__main__":
    main()
