"""One ingest from start to end, as a library call: plan the sources, find or start the cluster,
check its workers, submit with backpressure and return the report. The CLI only shows it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import redis
from celery import Celery

from pipeline.errors import RagmillError, UsageError
from pipeline.ingest.progress_bar import Report
from pipeline.ingest.submission import CatalogChoice, Submission, plan_sources
from pipeline.ingest.unread_queues import INSPECT_TIMEOUT, UnreadQueues
from pipeline.stack.broker import client_app, connect, queues_served
from pipeline.stack.cluster import Cluster, find_cluster, workers_for
from pipeline.stack.collection import claim_collection
from pipeline.stack.local import StackPlan
from pipeline.stack.services import worker_command
from tasks import queues
from tasks.embedding.backend import EmbeddingBackend
from tasks.ledger import Snapshot
from tasks.llm.errors import NO_LLM
from tasks.queues import embed_queue
from tasks.settings import Settings


@dataclass(frozen=True, kw_only=True)
class IngestRequest:
    """What to ingest and how; where to (cluster, collection, chunking) comes from Settings."""

    inputs: tuple[str, ...] = ()
    catalog: CatalogChoice | None = None
    fail_fast: bool = False
    contextualize: bool = False
    # Embed processes of a private stack (default: EMBED_CONCURRENCY, else one per core).
    workers: int | None = None

    def check(self, settings: Settings) -> None:
        """Raise UsageError when the request cannot run at all."""
        if not self.inputs and self.catalog is None:
            raise UsageError(
                "nothing to ingest; give Gutenberg ids, files, folders or URLs, or --catalog"
            )
        if self.contextualize and not settings.llm.configured:
            raise UsageError(f"--contextualize needs an LLM: {NO_LLM}")


@dataclass(frozen=True)
class IngestResult:
    """The run's id and report, and the files of its folders skipped as not documents."""

    run_id: str
    report: Report
    skipped: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The summary `--json` prints."""
        return {
            "run": self.run_id,
            **self.report.as_dict(),
            "files_skipped": len(self.skipped),
            "skipped": list(self.skipped),
        }


def stack_plan(request: IngestRequest, settings: Settings) -> StackPlan:
    """The private stack an ingest starts when no cluster is given."""
    return StackPlan(
        embed_concurrency=request.workers or settings.embed_processes,
        llm_threads=settings.llm.threads if request.contextualize else 0,
        remote_embed_threads=EmbeddingBackend.from_settings(settings).remote_threads,
    )


def needed_queues(request: IngestRequest, settings: Settings) -> tuple[str, ...]:
    """The queues `request`'s messages pass through, in the order they reach them."""
    llm = (queues.LLM,) if request.contextualize else ()
    return (queues.IO, *llm, embed_queue(settings))


def unread_queues(
    request: IngestRequest, settings: Settings, client: redis.Redis, app: Celery,
    on_warning: Callable[[str], None], on_notice: Callable[[str], None],
) -> UnreadQueues:
    """What watches `request`'s queues for a missing worker, asking `client`'s Redis how many
    messages wait and `app`'s workers which queues they read."""
    return UnreadQueues(
        needed_queues(request, settings),
        waiting=lambda queue: int(cast(int, client.llen(queue))),
        served=lambda: queues_served(app, timeout=INSPECT_TIMEOUT),
        command=lambda queue: worker_command(queue, settings),
        warn=on_warning,
        notice=on_notice,
    )


def ingest(
    request: IngestRequest,
    settings: Settings,
    *,
    on_progress: Callable[[Snapshot], None] = lambda s: None,
    on_warning: Callable[[str], None] = lambda s: None,
    on_notice: Callable[[str], None] = lambda s: None,
    cluster: Cluster | None = None,
) -> IngestResult:
    """Ingest `request` into `settings`' cluster (or a private stack) and report what landed.

    Ctrl-C (KeyboardInterrupt) during the run ends it with an interrupted report; what was
    stored stays stored and the same request run again sends only what is missing. `cluster`
    is the one the caller found, if it looked already. `on_warning` hears of a queue the run
    needs that no worker reads, `on_notice` of a worker that then appears.
    """
    request.check(settings)
    plan = plan_sources(list(request.inputs), request.catalog, settings)
    found = cluster or find_cluster(settings)
    with workers_for(found, settings, stack_plan(request, settings)) as info:
        redis_url = settings.redis_url or (info.redis_url if info else None)
        assert redis_url is not None
        client = connect(redis_url)  # fails at once, in one line, when nothing answers
        app = client_app(redis_url)
        served = queues_served(app)
        if request.contextualize and queues.LLM not in served:
            raise RagmillError(
                "--contextualize needs a worker on queue 'llm'; start one with "
                f"`{worker_command(queues.LLM, settings)}` (with the same LLM_* settings)"
            )
        unread = unread_queues(request, settings, client, app, on_warning, on_notice)
        if info is None:
            unread.first_look(served)
        claim_collection(settings, settings.chroma_url or (info.chroma_url if info else None))
        submission = Submission(
            app, client, settings, plan,
            fail_fast=request.fail_fast, contextualize=request.contextualize, unread=unread,
        )
        report = submission.run(on_progress)
    return IngestResult(submission.run_id, report, tuple(plan.skipped))
