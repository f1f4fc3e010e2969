"""`RunTask`: the base of every task that belongs to an ingest run.

It carries what the run's tasks share, once: the message type and its parsing, the check that
skips work of a cancelled run (Ctrl-C, SIGTERM or --fail-fast in the client; running the same
command again sends what is left), the retry policy for passing trouble (Chroma or Redis away for
a moment), and writing a final failure to the run's ledger so the client can report it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from tasks import resources
from tasks.celery_config import time_limits
from tasks.ledger import RunLedger
from tasks.messages import MessageError, RunMessage, from_wire, send_options


def failure_reason(exc: BaseException) -> str:
    """One line for the ledger: the exception's type and the first line of its message."""
    if isinstance(exc, SoftTimeLimitExceeded | TimeLimitExceeded):
        settings = resources.settings()
        soft, hard = time_limits(settings)
        limit = soft if isinstance(exc, SoftTimeLimitExceeded) else hard
        return (
            f"{type(exc).__name__}: ran past its time limit of {limit:.0f} s (a share of "
            f"RAGMILL_VISIBILITY_TIMEOUT={settings.visibility_timeout}); raise that if this "
            "work is slow rather than stuck"
        )
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


class RunTask(Task):
    """A task whose one argument is a `message` of type `message_type`."""

    message_type: ClassVar[type[RunMessage]] = RunMessage
    # Anything unexpected is retried with growing waits; tasks add the errors that are final.
    autoretry_for = (Exception,)
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 5

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        message = self.message(kwargs)
        if self.ledger(message).cancelled():
            # The run was stopped: its queued work is dropped, and running the same command
            # again sends only what is still missing from the store.
            return {"run": message.run_id, "skipped": "run cancelled"}
        return self.run(message=message)

    def message(self, kwargs: dict[str, Any]) -> Any:
        return from_wire(self.message_type, kwargs.get("message"), self.name)

    @staticmethod
    def ledger(message: RunMessage) -> RunLedger:
        """The ledger of the message's run (a thin handle: this process's Redis and a key)."""
        return RunLedger(resources.redis_client(), message.run_id)

    def send(self, message: RunMessage) -> None:
        """Queue `message` for this task (Flower shows its summary, not its contents)."""
        self.apply_async(**send_options(message))

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        if isinstance(exc, MessageError):
            return  # no run to report to; the worker's log has the reason
        message = self.message(kwargs)
        self.record_failure(message, self.ledger(message), failure_reason(exc))

    def record_failure(self, message: Any, ledger: RunLedger, reason: str) -> None:
        """Write the task's final failure to its run's ledger; each task says what failed."""
        raise NotImplementedError
