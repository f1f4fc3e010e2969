"""The Celery application: `celery -A tasks worker -Q embed` finds it here."""

from __future__ import annotations

import sys
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from tasks import resources
from tasks.celery_config import celery_config
from tasks.settings import Settings, SettingsError


def _settings_or_exit() -> Settings:
    try:
        return resources.settings()
    except SettingsError as exc:
        # This module loads before any command can catch anything (the CLI imports it, and so
        # does `celery -A tasks`): a bad variable ends the process with its one-line reason.
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None


app = Celery("ragmill", include=["tasks.fetch", "tasks.embed", "tasks.llm.tasks"])
app.conf.update(celery_config(_settings_or_exit()))


@worker_process_init.connect
def _prepare_worker_process(**_: Any) -> None:
    # A forked pool process must not reuse connections or models of its parent, and its compute
    # threads are capped before any model loads.
    resources.reset()
    from tasks.embedding import limit_compute_threads

    limit_compute_threads(resources.settings().embed_threads)
