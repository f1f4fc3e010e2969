"""`watch`: keep a collection in step with folders while it runs.

File-system events come from `watchfiles` (inotify, FSEvents, ReadDirectoryChangesW under
one API). Events are gathered until the folders have been quiet for `quiet_seconds`, however
many arrive, and then one sync runs over the whole folders: the sync compares the folders with
the collection's stamps rather than replaying events, so a missed or repeated event costs
nothing, and a watch that starts again (after a crash, a reboot) first syncs once and is in
step, since what it knows lives in the collection.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import watchfiles

from pipeline.errors import RagmillError
from pipeline.ingest.sync import SyncBusy, SyncResult, Target, open_target, sync_folders
from pipeline.ingest.sync_plan import check_folders
from pipeline.stack.cluster import Cluster
from tasks.settings import Settings

# A quiet period never ends in a burst that goes on and on (a long copy): a sync then runs at
# least this often, and the copy's rest is the next sync's.
LONGEST_WAIT_MS = 60_000
# How long a watch waits for its watcher to run before its first sync.
READY_SECONDS = 10


def watch(
    folders: list[str], settings: Settings, *, quiet_seconds: float = 2.0,
    on_result: Callable[[SyncResult], None], on_notice: Callable[[str], None] = lambda s: None,
    workers: int | None = None, cluster: Cluster | None = None,
) -> None:
    """Sync `folders` once, then again after each quiet period that follows changes, until
    KeyboardInterrupt (Ctrl-C, or SIGTERM turned into one by the caller)."""
    paths = check_folders(folders)
    with open_target(settings, workers, cluster) as target, Events(paths, settings,
                                                                   quiet_seconds) as events:
        # Events are already being gathered: a file dropped during this sync is not missed.
        if not run_once(target, settings, paths, quiet_seconds, on_result, on_notice):
            return
        while True:
            events.wait()
            # Events of files already synced as they are now (the tail of a burst that the last
            # sync read whole) make a sync that finds nothing: it says nothing.
            if not run_once(target, settings, paths, quiet_seconds, on_result, on_notice,
                            quiet_when_idle=True):
                return


class Events:
    """File-system events of `paths`, gathered in a thread of their own so that events arriving
    while a sync runs wait for the next one; `wait` returns once some have arrived."""

    def __init__(self, paths: list[Path], settings: Settings, quiet_seconds: float) -> None:
        self.paths = paths
        self.ignore = settings.data_dir.absolute()
        self.default = watchfiles.DefaultFilter()
        self.step = max(50, int(quiet_seconds * 1000))
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.changes: queue.Queue[int] = queue.Queue()
        self.thread = threading.Thread(target=self._gather, name="watch-events", daemon=True)

    def __enter__(self) -> Events:
        self.thread.start()
        self.ready.wait(READY_SECONDS)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)

    def wanted(self, change: watchfiles.Change, path: str) -> bool:
        # The local stack's own files (Redis, Chroma) may lie under a watched folder.
        return self.default(change, path) and not Path(path).is_relative_to(self.ignore)

    def _gather(self) -> None:
        # An empty set on each timeout says the watcher runs: the first one means ready.
        for found in watchfiles.watch(
            *self.paths, watch_filter=self.wanted, step=self.step,
            debounce=max(self.step, LONGEST_WAIT_MS), stop_event=self.stop,
            rust_timeout=self.step, yield_on_timeout=True, raise_interrupt=False,
        ):
            self.ready.set()
            if found:
                self.changes.put(len(found))

    def wait(self) -> None:
        """Block until changes arrived (in short sleeps, so Ctrl-C and SIGTERM get through),
        then take every batch gathered so far: a burst is one sync."""
        while True:
            try:
                self.changes.get(timeout=0.5)
                break
            except queue.Empty:
                if not self.thread.is_alive():
                    raise RagmillError(
                        "the file-system watcher stopped (a watched folder gone?); check the "
                        "folders and start ragmill watch again"
                    ) from None
        while not self.changes.empty():
            self.changes.get_nowait()


def run_once(
    target: Target, settings: Settings, paths: list[Path], quiet_seconds: float,
    on_result: Callable[[SyncResult], None], on_notice: Callable[[str], None],
    quiet_when_idle: bool = False,
) -> bool:
    """One sync, waiting while another sync holds the collection; False once interrupted.
    With `quiet_when_idle`, a sync that found nothing to do is not reported."""
    told = False
    while True:
        try:
            result = sync_folders(target, settings, paths)
        except SyncBusy as exc:
            if not told:
                on_notice(f"{exc}; waiting")
                told = True
            time.sleep(quiet_seconds)
            continue
        if not (quiet_when_idle and result.idle):
            on_result(result)
        return not result.interrupted
