"""The Celery application: `celery -A tasks worker -Q embed` finds it here.

Building the app reads nothing: its configuration is a promise that Celery keeps the first time
it needs a setting (a worker starting, a task being sent), so importing a task module in a
notebook or a web process never parses the environment.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from tasks import resources
from tasks.celery_config import celery_config
from tasks.settings import SettingsError


def _configuration() -> dict[str, object]:
    try:
        return celery_config(resources.settings())
    except SettingsError as exc:
        if os.path.basename(sys.argv[0]) != "celery":
            raise
        # Under the `celery` command (a worker, inspect) nothing above would catch it: the bad
        # variable ends the process with its one-line reason, as the ragmill CLI does.
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None


app = Celery("ragmill", include=["tasks.fetch", "tasks.embed", "tasks.ocr", "tasks.llm.tasks"])
app.add_defaults(_configuration)


@worker_process_init.connect
def _prepare_worker_process(**_: Any) -> None:
    # A forked pool process must not reuse connections or models of its parent, and its compute
    # threads are capped before any model loads.
    resources.reset()
    from tasks.embedding import limit_compute_threads

    limit_compute_threads(resources.settings().embed_threads)
