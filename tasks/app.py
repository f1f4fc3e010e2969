"""The Celery application: `celery -A tasks worker -Q embed` finds it here."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from tasks import resources
from tasks.config import celery_config

app = Celery("ragmill", include=["tasks.fetch", "tasks.embed", "tasks.llm.tasks"])
app.conf.update(celery_config(resources.settings()))


@worker_process_init.connect
def _prepare_worker_process(**_: Any) -> None:
    # A forked pool process must not reuse connections or models of its parent, and its compute
    # threads are capped before any model loads.
    resources.reset()
    from tasks.embedding import limit_compute_threads

    limit_compute_threads(resources.settings().embed_threads)
