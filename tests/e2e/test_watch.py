"""`ragmill watch` as a process, against a real redis-server, real workers and a real Chroma."""

from __future__ import annotations

import contextlib
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tasks.store import ChunkStore
from tests.conftest import Cluster, run_cli
from tests.support.books import body, shelf
from tests.support.cli import RAGMILL

pytestmark = pytest.mark.e2e


class Watcher:
    """A running `ragmill watch` whose stdout lines can be waited for."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def next_line(self, timeout: float = 90) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            ended = self.process.poll() is not None
            stderr = self.process.stderr.read() if ended and self.process.stderr else ""
            raise AssertionError(f"no line from ragmill watch in {timeout} s {stderr}") from None

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@contextmanager
def watching(cluster: Cluster, collection: str, folder: Path) -> Iterator[Watcher]:
    argv = [RAGMILL, "watch", str(folder), "--quiet", "1", "--collection", collection]
    process = subprocess.Popen(
        argv, env=cluster.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield Watcher(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_watch_syncs_a_dropped_file_survives_a_restart_and_stops_on_sigterm(
    cluster: Cluster, collection: str, tmp_path: Path
) -> None:
    folder = shelf(tmp_path / "inbox", whales_txt=body("1001", 6, seed=5))
    store = ChunkStore.connect(cluster.chroma_url, collection)

    with watching(cluster, collection, folder) as watcher:
        first = watcher.next_line()
        assert "Synced: 1 added, 0 changed, 0 moved, 0 removed, 0 unchanged" in first, first
        (folder / "roses.txt").write_text(body("1002", 6, seed=6))
        dropped = watcher.next_line()
        assert "Synced: 1 added" in dropped and "1 unchanged" in dropped, dropped
        # A burst of files is gathered into one sync.
        notes = folder / "notes"
        notes.mkdir()
        for n in range(40):
            (notes / f"note-{n:02d}.txt").write_text(f"Note {n}: the lighthouse keeper's log.")
        burst = watcher.next_line()
        assert "Synced: 40 added" in burst and "2 unchanged" in burst, burst
        with pytest.raises(queue.Empty):
            watcher.lines.get(timeout=3)
        # Thousands of events (an editor saving one note over and over) are gathered into a
        # sync or two (a burst longer than the quiet period spans two), not one per event, and
        # the note's last version is what is stored.
        note = notes / "note-00.txt"
        for n in range(3000):
            note.write_text(f"Note 0, draft {n}: the lighthouse keeper's log.")
        saved = [watcher.next_line()]
        with contextlib.suppress(queue.Empty):
            while True:
                saved.append(watcher.lines.get(timeout=5))
        assert 1 <= len(saved) <= 3 and all("1 changed" in s for s in saved), saved
        texts = store.collection.get(where={"source_path": str(note.resolve())})["documents"]
        assert texts and all("draft 2999" in text for text in texts), texts
        assert watcher.stop() in (0, 130)

    found = run_cli(["query", "damask roses in a walled garden", "-k", "1", "--json",
                     "--collection", collection], cluster.env())
    hits = found.json()
    assert isinstance(hits, list) and hits
    assert hits[0]["book_id"].startswith("roses-")

    # What the watch knew lives in the collection: a file deleted while it was stopped is
    # removed by the sync it runs on starting again.
    (folder / "whales.txt").unlink()
    with watching(cluster, collection, folder) as watcher:
        again = watcher.next_line()
        assert "0 added, 0 changed, 0 moved, 1 removed, 41 unchanged" in again, again
        assert watcher.stop() in (0, 130)
    assert {str(m["book_id"]).split("-")[0] for m in store.metadatas()} == {"roses", "note"}
