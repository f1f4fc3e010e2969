"""`watch`: keep a collection in step with folders while it runs.

File-system events come from `watchfiles` (inotify, FSEvents, ReadDirectoryChangesW under
one API). Events are gathered until the folders have been quiet for `quiet_seconds`, however
many arrive, and then one sync runs over the whole folders: the sync compares the folders with
the collection's stamps rather than replaying events, so a missed or repeated event costs
nothing, and a watch that starts again (after a crash, a reboot) first syncs once and is in
step, since what it knows lives in the collection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import watchfiles

from pipeline.ingest.sync import SyncBusy, SyncResult, Target, open_target, sync_folders
from pipeline.ingest.sync_plan import check_folders
from pipeline.stack.cluster import Cluster
from tasks.settings import Settings

# A quiet period never ends in a burst that goes on and on (a long copy): a sync then runs at
# least this often, and the copy's rest is the next sync's.
LONGEST_WAIT_MS = 60_000


def watch(
    folders: list[str], settings: Settings, *, quiet_seconds: float = 2.0,
    on_result: Callable[[SyncResult], None], on_notice: Callable[[str], None] = lambda s: None,
    workers: int | None = None, cluster: Cluster | None = None,
) -> None:
    """Sync `folders` once, then again after each quiet period that follows changes, until
    KeyboardInterrupt (Ctrl-C, or SIGTERM turned into one by the caller)."""
    paths = check_folders(folders)
    ignore = settings.data_dir.absolute()
    default = watchfiles.DefaultFilter()

    def wanted(change: watchfiles.Change, path: str) -> bool:
        # The local stack's own files (Redis, Chroma) may lie under a watched folder.
        return default(change, path) and not Path(path).is_relative_to(ignore)

    with open_target(settings, workers, cluster) as target:
        if not run_once(target, settings, paths, quiet_seconds, on_result, on_notice):
            return
        step = max(50, int(quiet_seconds * 1000))
        for _ in watchfiles.watch(
            *paths, watch_filter=wanted, step=step, debounce=max(step, LONGEST_WAIT_MS),
        ):
            if not run_once(target, settings, paths, quiet_seconds, on_result, on_notice):
                return


def run_once(
    target: Target, settings: Settings, paths: list[Path], quiet_seconds: float,
    on_result: Callable[[SyncResult], None], on_notice: Callable[[str], None],
) -> bool:
    """One sync, waiting while another sync holds the collection; False once interrupted."""
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
        on_result(result)
        return not result.interrupted
