"""One sync: make a collection hold exactly what some folders hold now.

The plan (pipeline/ingest/sync_plan.py) compares the folders with the stamps the collection
holds for them. Then, under a Redis lock per collection so two syncs never interleave:

1. moves are re-pointed in Chroma (vectors kept, nothing embedded);
2. added and changed files go through an ordinary ingest run; the workers embed only chunks
   whose text was never embedded (tasks/reuse.py);
3. each file that landed is stamped (the stamp is what the next sync compares with);
4. only then, and only when the run was not interrupted, removed files' chunks are deleted,
   each after checking once more that its file is still gone.

Only sources under the named folders are looked at: Gutenberg ids, URLs and other folders in
the same collection are never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from chromadb.errors import NotFoundError

from corpus.errors import CorpusError
from corpus.sources import Source
from pipeline.errors import RagmillError, UsageError
from pipeline.ingest.progress_bar import Report
from pipeline.ingest.run import IngestRequest, stack_plan
from pipeline.ingest.submission import Plan, Submission
from pipeline.ingest.sync_plan import (
    LocalFile,
    SyncPlan,
    check_folders,
    fingerprint,
    make_plan,
    still_there,
)
from pipeline.ingest.sync_store import remove, repoint, restamp, stamp, stored_sources
from pipeline.stack.broker import client_app, connect
from pipeline.stack.cluster import Cluster, find_cluster, workers_for
from pipeline.stack.collection import chroma_for, claim_collection
from tasks import reuse
from tasks.ledger import Snapshot
from tasks.settings import Settings
from tasks.store import ChunkStore, chroma_client

LOCK_PREFIX = "ragmill:sync:"
# The lock lapses this long after its holder stopped renewing it (a crashed sync), so the next
# sync is never refused for longer; a live sync renews it every RENEW_SECONDS.
LOCK_SECONDS = 60
RENEW_SECONDS = 10


@dataclass
class SyncResult:
    """What a sync planned and did: the summary `ragmill sync` prints and `--json` returns."""

    plan: SyncPlan
    dry_run: bool
    run_id: str | None = None
    report: Report | None = None
    embedded: int = 0  # chunks the model encoded
    reused: int = 0  # chunks sent to embed whose stored vector was copied instead
    moved_chunks: int = 0
    removed_chunks: int = 0
    # Files whose removal was skipped because they exist again.
    kept: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> dict[str, str]:
        found = dict(self.plan.unreadable)
        if self.report is not None:
            found.update(self.report.failures)
        return found

    @property
    def interrupted(self) -> bool:
        return self.report is not None and self.report.interrupted

    @property
    def ok(self) -> bool:
        return not self.failures and not self.interrupted

    @property
    def idle(self) -> bool:
        """Nothing to do was found: every file unchanged, nothing failed."""
        counts = self.plan.counts()
        return self.ok and not any(counts[k] for k in ("added", "changed", "moved", "removed"))

    def as_dict(self) -> dict[str, object]:
        report = self.report.as_dict() if self.report else {}
        return {
            **self.plan.as_dict(),
            "dry_run": self.dry_run,
            "run": self.run_id,
            "chunks_embedded": self.embedded,
            "chunks_reused": self.reused,
            "chunks_already_stored": report.get("chunks_already_stored", 0),
            # Scanned pages sent to OCR and read (pages read before come from Redis, uncounted).
            "ocr_pages_queued": report.get("ocr_pages_queued", 0),
            "ocr_pages_read": report.get("ocr_pages_read", 0),
            "chunks_moved": self.moved_chunks,
            "chunks_removed": self.removed_chunks,
            "kept": self.kept,
            "failures": self.failures,
            "warnings": report.get("warnings", []),
            "interrupted": self.interrupted,
            "seconds": round(self.seconds, 2),
        }

    def line(self) -> str:
        """The one-line summary (watch prints one per run)."""
        c = self.plan.counts()
        head = "Plan" if self.dry_run else ("Interrupted" if self.interrupted else "Synced")
        text = (
            f"{head}: {c['added']} added, {c['changed']} changed, {c['moved']} moved, "
            f"{c['removed']} removed, {c['unchanged']} unchanged"
        )
        if not self.dry_run:
            text += (
                f"; {self.embedded} chunks embedded, {self.reused} reused, "
                f"{self.moved_chunks} moved, {self.removed_chunks} removed in {self.seconds:.1f} s"
            )
        failed = len(self.failures)
        return text + (f"; {failed} failed" if failed else "")


@dataclass(frozen=True)
class Target:
    """Where a sync writes: the broker, the Celery client and the Chroma server."""

    client: redis.Redis
    app: Any
    chroma_url: str


@contextlib.contextmanager
def open_target(
    settings: Settings, workers: int | None = None, cluster: Cluster | None = None
) -> Iterator[Target]:
    """The cluster a sync (or a watch's many syncs) runs on: REDIS_URL's, a `ragmill up`
    stack, or a private stack started for the block."""
    found = cluster or find_cluster(settings)
    plan = stack_plan(IngestRequest(workers=workers), settings)
    with workers_for(found, settings, plan) as info:
        redis_url = settings.redis_url or (info.redis_url if info else None)
        chroma_url = settings.chroma_url or (info.chroma_url if info else None)
        if redis_url is None or chroma_url is None:
            raise UsageError(
                "sync reads the collection itself; set CHROMA_URL beside REDIS_URL"
            )
        client = connect(redis_url)
        claim_collection(settings, chroma_url)
        yield Target(client, client_app(redis_url), chroma_url)


class SyncBusy(RagmillError):
    """Another sync holds the collection's lock."""


class Lock:
    """The collection's sync lock in Redis: one sync at a time, lapsing if its holder dies."""

    def __init__(self, client: redis.Redis, collection: str) -> None:
        self.collection = collection
        self.lock = client.lock(LOCK_PREFIX + collection, timeout=LOCK_SECONDS, blocking=False)
        self.renewed = 0.0

    def __enter__(self) -> Lock:
        if not self.lock.acquire():
            raise SyncBusy(
                f"collection {self.collection}: another sync is running; run this again when "
                "it has finished"
            )
        self.renewed = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(redis.exceptions.LockError):
            self.lock.release()

    def renew(self) -> None:
        if time.monotonic() - self.renewed > RENEW_SECONDS:
            self.lock.reacquire()
            self.renewed = time.monotonic()


class SyncSubmission(Submission):
    """An ingest run that remembers what it read of each file: the stamp must describe the
    bytes that were ingested, even when the file changed again since it was planned."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: dict[str, LocalFile] = {}

    def _read_file(self, source: Source) -> bytes:
        try:
            size, mtime_ns = fingerprint(source.ref)
        except OSError as exc:
            raise CorpusError(
                f"{source.label}: {exc.strerror or exc} since the sync looked at it; what is "
                "stored of it stays, and the next sync tries it again"
            ) from None
        data = super()._read_file(source)
        self.sent[source.label] = LocalFile(
            source.ref, source.label, size, mtime_ns, hashlib.sha256(data).hexdigest()[:32]
        )
        return data


def plan_sync(folders: list[Path], collection: Any, settings: Settings) -> SyncPlan:
    stored = stored_sources(collection, folders) if collection else {}
    return make_plan(folders, stored, settings.data_dir.resolve())


def sync_folders(
    target: Target, settings: Settings, folders: list[Path], *,
    on_progress: Callable[[Snapshot], None] = lambda s: None,
) -> SyncResult:
    """One sync of `folders` into `settings.collection` on `target`."""
    started = time.monotonic()
    with Lock(target.client, settings.collection) as lock:
        store = ChunkStore.connect(target.chroma_url, settings.collection)
        result = SyncResult(plan_sync(folders, store.collection, settings), dry_run=False)
        plan = result.plan
        for move in plan.moved:
            result.moved_chunks += repoint(store.collection, move, lock.renew)
        if plan.to_ingest:
            ingest_files(target, settings, result, lock, on_progress)
        for local in plan.touched:
            restamp(store.collection, local)
        if not result.interrupted:
            remove_gone(store.collection, result)
    result.seconds = time.monotonic() - started
    return result


def ingest_files(
    target: Target, settings: Settings, result: SyncResult, lock: Lock,
    on_progress: Callable[[Snapshot], None],
) -> None:
    """Run the added and changed files through an ingest, then stamp those that landed."""
    files = result.plan.to_ingest
    submission = SyncSubmission(
        target.app, target.client, settings,
        Plan([Source("file", f.path, f.label) for f in files], []),
    )

    def progress(snapshot: Snapshot) -> None:
        lock.renew()
        on_progress(snapshot)

    result.report = submission.run(progress)
    result.run_id = submission.run_id
    result.embedded, result.reused = reuse.totals(target.client, submission.run_id)
    landed = landed_books(submission)
    collection = ChunkStore.connect(target.chroma_url, settings.collection).collection
    for local in files:
        sent = submission.sent.get(local.label)
        if sent is not None and local.label in landed:
            stamp(collection, landed[local.label], sent, lock.renew)


def landed_books(submission: Submission) -> dict[str, str]:
    """Source label -> book id of the run's files whose every chunk is stored: an interrupted
    run's half-stored book is not stamped, so the next sync ingests it again."""
    ledger = submission.ledger
    failed = ledger.failures()
    return {
        label: book for book, label in ledger.book_sources().items()
        if label not in failed and not ledger.pending_batches(book)
    }


def remove_gone(collection: Any, result: SyncResult) -> None:
    """Delete the chunks of files that are gone, checking each is still gone right before."""
    for source in result.plan.removed:
        if still_there(source.path):
            result.kept.append(source.label)
            continue
        result.removed_chunks += remove(collection, source.path)


def dry_run(settings: Settings, folders: list[Path], cluster: Cluster | None) -> SyncResult:
    """The plan alone: reads the collection (starting no workers) and writes nothing."""
    found = cluster or find_cluster(settings)
    if found.chroma_url is None and not (settings.data_dir / "chroma").exists():
        # Nothing is stored anywhere yet: every document would be added.
        return SyncResult(make_plan(folders, {}, settings.data_dir.resolve()), dry_run=True)
    with chroma_for(settings, found) as reachable:
        assert reachable.chroma_url is not None
        try:
            collection = chroma_client(reachable.chroma_url).get_collection(settings.collection)
        except NotFoundError:
            collection = None
        return SyncResult(plan_sync(folders, collection, settings), dry_run=True)


def sync(
    folders: list[str], settings: Settings, *, dry_run_only: bool = False,
    workers: int | None = None, cluster: Cluster | None = None,
    on_progress: Callable[[Snapshot], None] = lambda s: None,
) -> SyncResult:
    """Make `settings.collection` hold exactly what `folders` hold now (or, with
    `dry_run_only`, say what that would do)."""
    paths = check_folders(folders)
    if dry_run_only:
        return dry_run(settings, paths, cluster)
    with open_target(settings, workers, cluster) as target:
        return sync_folders(target, settings, paths, on_progress=on_progress)
