"""`ragmill sync` through a real redis-server, real Celery workers and a real Chroma server.

One folder of real books in several formats goes through the life of a library: first sync,
a rename and a move to a subfolder, a one-paragraph edit, a deletion and an addition (planned
with --dry-run first). After each step the exact set of chunk ids stored is compared with what
ingesting the folder's files from scratch would store, and the chunks sent to the model are
counted.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis

from corpus.book import local_book_id, prepare_book
from corpus.chunking import ChunkConfig
from corpus.tokens import load_tokenizer, model_window
from tasks.settings import default_model
from tasks.store import ChunkStore
from tests.conftest import Cluster, Result, run_cli
from tests.support.books import body, gutenberg_text, shelf
from tests.support.cli import RAGMILL
from tests.support.shared import gutenberg_dir
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

REAL_BOOKS = gutenberg_dir()
# Decided at collection, before the cluster starts: a fresh clone skips these two at once.
needs_real_books = pytest.mark.skipif(
    not (REAL_BOOKS / "catalog.csv").is_file(),
    reason=f"real Gutenberg books not found at {REAL_BOOKS} (put shared/ beside the repository)",
)

# A short real Gutenberg book (about 30 chunks), read as a local file: its id is its number.
REAL_BOOK = "pg17773.txt"


def sync(cluster: Cluster, collection: str, *args: str) -> Result:
    return run_cli(
        ["sync", "--json", "--no-progress", "--collection", collection, *args], cluster.env()
    )


def summary(result: Result) -> dict[str, Any]:
    assert result.stdout, result.stderr
    data = result.json()
    assert isinstance(data, dict)
    return data


def expected_ids(*places: Path) -> set[str]:
    """The chunk ids ingesting every document in `places` (files, folders) afresh would store."""
    model = Path(default_model())
    tokenizer = load_tokenizer(model)
    config = ChunkConfig(max_tokens=200, overlap_tokens=32, window=model_window(model))
    ids: set[str] = set()
    for place in places:
        files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
        for path in sorted(files):
            absolute = str(path.resolve())
            book = prepare_book(
                path.read_bytes(), name=path.name, tokenizer=tokenizer, config=config,
                fallback_id=local_book_id(path.name, absolute),
            )
            ids |= {c.id for c in book.chunks}
    return ids


def write_library(root: Path) -> Path:
    """Four books in three formats: a real Gutenberg text, plain notes, Markdown and HTML."""
    library = root / "library"
    library.mkdir()
    shutil.copy(REAL_BOOKS / REAL_BOOK, library / REAL_BOOK)
    (library / "whales.txt").write_text(body("1001", 12, seed=1))
    (library / "roses.md").write_text("# A Garden of Roses\n\n" + body("1002", 12, seed=2))
    paragraphs = "".join(f"<p>{p}</p>\n" for p in body("1003", 12, seed=3).split("\n\n"))
    (library / "railway.html").write_text(
        f"<html><head><title>Engines</title></head><body>{paragraphs}</body></html>"
    )
    return library


def edit_one_paragraph(path: Path) -> None:
    """Change one word in a paragraph in the middle of the book."""
    text = path.read_text(encoding="utf-8")
    paragraphs = text.split("\n\n")
    middle = len(paragraphs) // 2
    while len(paragraphs[middle].split()) < 20:
        middle += 1
    words = paragraphs[middle].split(" ")
    words[len(words) // 2] = "EDITED"
    paragraphs[middle] = " ".join(words)
    path.write_text("\n\n".join(paragraphs), encoding="utf-8")


def book_ids(store: ChunkStore) -> set[str]:
    return {str(m["book_id"]) for m in store.metadatas()}


@needs_real_books
def test_a_library_stays_in_step_with_its_folder(
    cluster: Cluster, collection: str, tmp_path: Path
) -> None:
    library = write_library(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "diary.txt").write_text(body("1003", 6, seed=9))
    store = ChunkStore.connect(cluster.chroma_url, collection)

    # Sources a sync of `library` must never touch: a Gutenberg id and another folder.
    assert run_cli(["ingest", "--no-progress", "--collection", collection, "1002"],
                   cluster.env()).code == 0
    assert sync(cluster, collection, str(other)).code == 0
    untouched = set(store.all_ids())
    assert "1002" in book_ids(store)

    first = sync(cluster, collection, str(library))
    assert first.code == 0, first.stderr
    done = summary(first)
    assert (done["added"], done["changed"], done["moved"], done["removed"]) == (4, 0, 0, 0)
    assert set(store.all_ids()) == untouched | expected_ids(library)
    assert done["chunks_embedded"] + done["chunks_reused"] == len(expected_ids(library))

    # A rename and a move to a subfolder embed nothing.
    (library / "whales.txt").rename(library / "whaling-notes.txt")
    (library / "sub").mkdir()
    (library / "railway.html").rename(library / "sub" / "railway.html")
    moved = summary(sync(cluster, collection, str(library)))
    assert (moved["moved"], moved["added"], moved["removed"], moved["unchanged"]) == (2, 0, 0, 2)
    assert moved["chunks_embedded"] == 0
    assert moved["chunks_moved"] > 0
    assert set(store.all_ids()) == untouched | expected_ids(library)

    # One edited paragraph sends a handful of chunks to the model, not the rest of the book.
    edit_one_paragraph(library / REAL_BOOK)
    edited = summary(sync(cluster, collection, str(library)))
    assert edited["changed"] == 1 and edited["unchanged"] == 3
    assert 1 <= edited["chunks_embedded"] <= 3, edited
    assert set(store.all_ids()) == untouched | expected_ids(library)

    # A deletion and an addition: planned first, changing nothing, then done.
    roses = local_book_id("roses.md", str((library / "roses.md").resolve()))
    assert roses in book_ids(store)
    (library / "roses.md").unlink()
    (library / "sub" / "lighthouse.txt").write_text(body("1001", 5, seed=7))
    before = set(store.all_ids())
    planned = sync(cluster, collection, str(library), "--dry-run")
    assert planned.code == 0, planned.stderr
    plan = summary(planned)
    assert (plan["added"], plan["changed"], plan["moved"], plan["removed"],
            plan["unchanged"]) == (1, 0, 0, 1, 3)
    assert [Path(p).name for p in plan["files"]["removed"]] == ["roses.md"]
    assert set(store.all_ids()) == before
    real = summary(sync(cluster, collection, str(library)))
    assert (real["added"], real["removed"]) == (1, 1)
    assert real["chunks_removed"] > 0
    assert set(store.all_ids()) == untouched | expected_ids(library)

    # The deleted book is found no more; the Gutenberg book on the same subject still is.
    found = run_cli(["query", "damask roses in a walled garden", "-k", "10", "--json",
                     "--collection", collection], cluster.env())
    hits = found.json()
    assert isinstance(hits, list) and hits
    assert roses not in book_ids(store)
    assert not any(h["book_id"] == roses for h in hits)
    assert any(h["book_id"] == "1002" for h in hits)

    # In step: the same sync again changes nothing and embeds nothing.
    again = summary(sync(cluster, collection, str(library)))
    assert again["unchanged"] == 4 and again["chunks_embedded"] == 0
    assert again["added"] == again["changed"] == again["moved"] == again["removed"] == 0


def test_a_bad_file_is_one_line_and_the_rest_lands(
    cluster: Cluster, collection: str, tmp_path: Path
) -> None:
    library = shelf(tmp_path / "shelf", notes_txt=body("1002", 6, seed=4))
    (library / "broken.pdf").write_bytes(b"%PDF-1.7 this is not a PDF at all")
    result = sync(cluster, collection, str(library))
    assert result.code == 1
    done = summary(result)
    assert list(done["failures"]) == [next(iter(done["failures"]))]
    assert "broken.pdf" in next(iter(done["failures"]))
    assert sum("failed:" in line for line in result.stderr.splitlines()) == 1
    store = ChunkStore.connect(cluster.chroma_url, collection)
    assert set(store.all_ids()) == expected_ids(library / "notes.txt")
    assert {str(m.get("source_path")) for m in store.metadatas()} == {
        str((library / "notes.txt").resolve())
    }


def test_a_second_sync_of_one_collection_is_refused_in_one_line(
    cluster: Cluster, collection: str, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text(body("1001", 3))
    client = redis.Redis.from_url(cluster.redis_url)
    # What a running sync holds: the collection's lock, with a TTL.
    client.set(f"ragmill:sync:{collection}", "another", ex=30)
    try:
        result = sync(cluster, collection, str(tmp_path))
    finally:
        client.delete(f"ragmill:sync:{collection}")
    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "another sync is running" in lines[0], result.stderr
    assert ChunkStore.connect(cluster.chroma_url, collection).count() == 0


def test_a_folder_that_does_not_exist_is_one_line(cluster: Cluster, tmp_path: Path) -> None:
    result = sync(cluster, "unused", str(tmp_path / "nowhere"))
    assert result.code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'nowhere'}: no such folder; sync takes " \
        "folders of books"


@needs_real_books
def test_an_interrupted_sync_removes_nothing_and_the_next_run_finishes_it(
    cluster: Cluster, collection: str, tmp_path: Path
) -> None:
    library = shelf(tmp_path / "library", old_txt=body("1001", 4, seed=11))
    assert sync(cluster, collection, str(library)).code == 0
    store = ChunkStore.connect(cluster.chroma_url, collection)
    old = local_book_id("old.txt", str((library / "old.txt").resolve()))
    (library / "old.txt").unlink()
    shutil.copy(REAL_BOOKS / "pg31894.txt", library / "pg31894.txt")  # about 100 chunks

    client = redis.Redis.from_url(cluster.redis_url)
    runs = set(client.zrange("ragmill:runs", 0, -1))
    process = subprocess.Popen(
        [RAGMILL, "sync", "--no-progress", "--collection", collection, str(library)],
        env=cluster.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    wait_for(lambda: set(client.zrange("ragmill:runs", 0, -1)) - runs, 60, "the sync's run")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "nothing was removed" in stderr
    assert old in book_ids(store)  # the removal waits for a sync that finishes

    again = summary(sync(cluster, collection, str(library)))
    assert (again["added"], again["removed"]) == (1, 1), again
    assert set(store.all_ids()) == expected_ids(library)
    assert summary(sync(cluster, collection, str(library)))["unchanged"] == 1


def test_chunks_a_new_edition_shares_take_its_title_and_source(
    cluster: Cluster, collection: str, tmp_path: Path
) -> None:
    first = gutenberg_text("1001", paragraphs=12)
    (tmp_path / "voyage.txt").write_text(first.text)
    revised = first.text.replace("Title: The Whaling Voyage", "Title: The Whaling Voyage, Revised")
    (tmp_path / "voyage-revised.txt").write_text(revised.replace("Chapter 12", "Chapter Twelve"))
    argv = ["ingest", "--no-progress", "--collection", collection]
    assert run_cli([*argv, str(tmp_path / "voyage.txt")], cluster.env()).code == 0
    assert run_cli([*argv, str(tmp_path / "voyage-revised.txt")], cluster.env()).code == 0
    store = ChunkStore.connect(cluster.chroma_url, collection)
    metadatas = store.metadatas()
    assert {m["book_id"] for m in metadatas} == {"1001"}
    assert {m["title"] for m in metadatas} == {"The Whaling Voyage, Revised"}
    assert {Path(str(m["source"])).name for m in metadatas} == {"voyage-revised.txt"}


def test_a_file_that_vanishes_mid_sync_is_one_line_and_the_rest_lands(
    cluster: Cluster, collection: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.ingest import sync as sync_module
    from tasks.settings import Settings

    library = tmp_path / "library"
    library.mkdir()
    (library / "stays.txt").write_text(body("1001", 4, seed=21))
    (library / "vanishes.txt").write_text(body("1002", 4, seed=22))
    planned = sync_module.plan_sync

    def plan_then_delete(*args: Any) -> Any:
        plan = planned(*args)
        (library / "vanishes.txt").unlink()  # between the plan and the read of its bytes
        return plan

    monkeypatch.setattr(sync_module, "plan_sync", plan_then_delete)
    settings = Settings.from_env().with_changes(
        redis_url=cluster.redis_url, chroma_url=cluster.chroma_url, collection=collection,
        data_dir=cluster.data_dir,
    )
    result = sync_module.sync([str(library)], settings)
    assert result.plan.counts()["added"] == 2
    assert len(result.failures) == 1
    reason = next(iter(result.failures.values()))
    assert "vanishes.txt" in reason and "\n" not in reason
    store = ChunkStore.connect(cluster.chroma_url, collection)
    assert set(store.all_ids()) == expected_ids(library / "stays.txt")

    monkeypatch.setattr(sync_module, "plan_sync", planned)
    again = sync_module.sync([str(library)], settings)
    assert again.plan.counts() == {"added": 0, "changed": 0, "moved": 0, "removed": 0,
                                   "unchanged": 1, "unreadable": 0}


def test_library_sync_returns_the_summary_the_command_prints(
    cluster: Cluster, collection: str, tmp_path: Path
) -> None:
    from pipeline.search.library import Library
    from tasks.settings import Settings

    (tmp_path / "one.txt").write_text(body("1003", 4, seed=31))
    settings = Settings.from_env().with_changes(redis_url=cluster.redis_url)
    library = Library(collection, cluster.chroma_url, settings=settings)
    plan = library.sync([tmp_path], dry_run=True)
    assert plan.dry_run and plan.plan.counts()["added"] == 1
    assert ChunkStore.connect(cluster.chroma_url, collection).count() == 0
    done = library.sync([tmp_path])
    assert done.as_dict()["added"] == 1 and done.embedded > 0
    assert [b.source for b in library.books()] == [done.plan.added[0].label]
    (tmp_path / "one.txt").unlink()
    # A folder left holding nothing reads as a disk not mounted: its book stays, in one line.
    emptied = library.sync([tmp_path]).as_dict()
    assert emptied["removed"] == 0 and list(emptied["unreadable"]) == [str(tmp_path.resolve())]
    assert [b.source for b in library.books()] == [done.plan.added[0].label]
    (tmp_path / "two.txt").write_text(body("1001", 3, seed=32))
    replaced = library.sync([tmp_path]).as_dict()
    assert replaced["removed"] == 1 and replaced["added"] == 1
    assert [b.source for b in library.books()] == [replaced["files"]["added"][0]]


def test_searches_never_fail_while_a_sync_adds_moves_and_removes(
    cluster: Cluster, collection: str, tmp_path: Path
) -> None:
    """The search service's path (one long-lived Library, meaning and keyword modes) answers
    every question while syncs change the collection under it."""
    import threading

    from pipeline.search.library import Library
    from tasks.settings import Settings

    library = shelf(tmp_path / "shelf", whales_txt=body("1001", 12, seed=41),
                    roses_txt=body("1002", 12, seed=42))
    assert sync(cluster, collection, str(library)).code == 0
    reader = Library(collection, cluster.chroma_url,
                     settings=Settings.from_env().with_changes(redis_url=cluster.redis_url))
    stop, answered, failures = threading.Event(), [0], []

    def ask_again_and_again() -> None:
        while not stop.is_set():
            for mode in ("meaning", "keyword", "hybrid"):
                try:
                    reader.search("the whale and the roses", k=4, mode=mode)
                    answered[0] += 1
                except Exception as exc:  # any failure of a question is what this test finds
                    failures.append(f"{mode}: {type(exc).__name__}: {exc}")

    asker = threading.Thread(target=ask_again_and_again)
    asker.start()
    try:
        (library / "railway.txt").write_text(body("1003", 12, seed=43))  # added
        assert sync(cluster, collection, str(library)).code == 0
        (library / "whales.txt").rename(library / "whaling.txt")  # moved
        (library / "roses.txt").unlink()  # removed
        assert sync(cluster, collection, str(library)).code == 0
    finally:
        stop.set()
        asker.join(timeout=60)
    assert failures == [] and answered[0] > 0, failures[:3]
    # And the syncs did land: the removed book is gone, the added one is found.
    titles = {b.book_id for b in reader.books()}
    assert len(titles) == 2
