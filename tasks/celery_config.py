"""Celery settings for every ragmill worker and client.

Each value links to its entry in Celery's configuration reference:
https://docs.celeryq.dev/en/stable/userguide/configuration.html
"""

from __future__ import annotations

from kombu import Queue

from tasks import queues
from tasks.settings import Settings

# The local default matches `ragmill up` run by hand with a redis-server on its usual port.
LOCAL_REDIS = "redis://127.0.0.1:6379/0"

# Every limit is a share of the visibility timeout, so raising RAGMILL_VISIBILITY_TIMEOUT for
# slow work raises them all together and none outlives it (docs/reliability.md).
SOFT_LIMIT_SHARE = 0.7  # a task is told to stop (SoftTimeLimitExceeded: retried)
HARD_LIMIT_SHARE = 0.85  # a prefork process still running it is killed and replaced
EXTRACTION_SHARE = 0.5  # a book's format extraction and chunking in the io worker's pool
# A run with work outstanding and no progress for this long re-sends what is missing; never
# more than a minute, and short of the visibility timeout so it beats a redelivery.
STALL_SHARE = 1 / 3
STALL_MAX_SECONDS = 60.0


def time_limits(settings: Settings) -> tuple[float, float]:
    """(soft, hard) seconds any task may run, both below the visibility timeout: a hung task ends
    before Redis would hand its message to a second worker."""
    timeout = settings.visibility_timeout
    return timeout * SOFT_LIMIT_SHARE, timeout * HARD_LIMIT_SHARE


def extraction_timeout(settings: Settings) -> float:
    """Seconds a book may spend in the io worker's extraction pool (tasks/extraction.py)."""
    return settings.visibility_timeout * EXTRACTION_SHARE


def stall_seconds(settings: Settings) -> float:
    """Seconds without progress after which a run re-sends its missing work
    (pipeline/ingest/submission.py)."""
    return min(STALL_MAX_SECONDS, settings.visibility_timeout * STALL_SHARE)


def celery_config(settings: Settings) -> dict[str, object]:
    """The Celery configuration for `settings`' cluster."""
    return {
        # broker_url: https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-url
        "broker_url": settings.redis_url or LOCAL_REDIS,
        # JSON in both directions: a shared broker plus pickle would be remote code execution.
        # task_serializer / accept_content: ...configuration.html#task-serializer
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "result_serializer": "json",
        "event_serializer": "json",
        # No result backend: progress lives in the run ledger, so results would only fill Redis.
        # task_ignore_result: ...configuration.html#task-ignore-result
        "task_ignore_result": True,
        "result_backend": None,
        # A batch is acknowledged after it is stored, and requeued if its process dies, so a
        # killed worker loses nothing; upserts make the redelivery harmless.
        # task_acks_late: ...configuration.html#task-acks-late
        # task_reject_on_worker_lost: ...configuration.html#task-reject-on-worker-lost
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # One message per process at a time, so a slow batch never holds others hostage.
        # worker_prefetch_multiplier: ...configuration.html#worker-prefetch-multiplier
        "worker_prefetch_multiplier": 1,
        # task_queues / task_routes: ...configuration.html#task-routes
        # Every queue is declared; an embed batch names its queue when sent (local or remote).
        "task_queues": [Queue(name) for name in queues.ALL],
        "task_default_queue": queues.IO,
        "task_routes": {
            "ragmill.fetch_book": {"queue": queues.IO},
            "ragmill.embed_batch": {"queue": queues.EMBED},
            # A scanned page is CPU work like a batch: the embed processes read it (tasks/ocr.py).
            "ragmill.ocr_page": {"queue": queues.EMBED},
            "ragmill.llm.*": {"queue": queues.LLM},
        },
        # Events on, so Flower shows every worker and task.
        # worker_send_task_events: ...configuration.html#worker-send-task-events
        # task_send_sent_event: ...configuration.html#task-send-sent-event
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        # A worker parent killed with SIGKILL (or a machine lost) never requeues the messages it
        # had taken; Redis hands them out again `visibility_timeout` seconds after delivery.
        # Celery's 3600 s would stall an ingest for an hour, so ragmill defaults to 300 s
        # (RAGMILL_VISIBILITY_TIMEOUT): longer than any embed batch and nearly every fetch. A
        # task that outlives it is merely delivered twice, which idempotent upserts and the run
        # ledger absorb. kombu looks for such messages every `unacked_restore_interval` seconds
        # times `unacked_restore_throttle` (10 x 10 by default); ragmill scans on every sweep.
        # broker_transport_options: ...configuration.html#broker-transport-options
        # https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html
        "broker_transport_options": {
            "visibility_timeout": settings.visibility_timeout,
            "unacked_restore_interval": max(1, min(10, settings.visibility_timeout // 3)),
            "unacked_restore_throttle": 1,
        },
        # Time limits below the visibility timeout, so no message is worked on twice at once. The
        # prefork pool (embed) enforces both: the soft one raises SoftTimeLimitExceeded in the
        # task, which retries it; the hard one kills the process, fails the batch's book with a
        # line naming it, and the pool starts a new process. A threads pool (io, embed-remote,
        # llm) cannot stop a thread, so there each blocking step has its own deadline derived
        # from the same timeout (extraction_timeout, the remote wait budget, download timeouts).
        # task_soft_time_limit / task_time_limit: ...configuration.html#task-time-limit
        "task_soft_time_limit": time_limits(settings)[0],
        "task_time_limit": time_limits(settings)[1],
        # Publishing (the CLI's fetch tasks, a fetch's embed batches, retries) rides out a Redis
        # restart of up to about a minute instead of failing the task after 0.6 s.
        # task_publish_retry_policy: ...configuration.html#task-publish-retry-policy
        "task_publish_retry_policy": {
            "max_retries": 30,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 2,
        },
        "broker_connection_retry_on_startup": True,
        # Celery's consumer, kept alive when Redis is lost while it holds unacknowledged messages
        # (tasks/consumer.py); Celery 5.7's own stops the worker then.
        # worker_consumer: ...configuration.html#worker-consumer
        "worker_consumer": "tasks.consumer:Consumer",
        # Celery's own logging setup stays; ragmill only adds messages.
        "worker_hijack_root_logger": True,
        "worker_redirect_stdouts": False,
    }
