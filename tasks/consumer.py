"""The worker's consumer: Celery's, kept alive when its broker connection is lost while it holds
messages.

When a worker loses Redis (a restart), Celery 5.7 first collects the dead connection, which drops
its transport, and then closes it. If the worker holds messages it has not acknowledged (a retry
waiting out its countdown, for one), closing the channel tries to put them back through that
dropped transport and raises AttributeError, which Celery does not expect there: the worker logs
"Unrecoverable error" and exits instead of reconnecting. The messages are safe either way: Redis
keeps them in its unacked hash and hands them out again after the visibility timeout. So that one
error is logged and the consumer reconnects as it does after any other lost connection.
"""

from __future__ import annotations

import logging

from celery.worker.consumer import Consumer as CeleryConsumer

logger = logging.getLogger(__name__)


class Consumer(CeleryConsumer):
    """Celery's consumer, which reconnects after a lost connection it could not close cleanly."""

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        lost = self.connection
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError as error:
            # Only the close of the lost connection: Celery has already let go of it.
            if lost is None or self.connection is not None:
                raise
            logger.warning(
                "the lost broker connection could not put back the messages it held (%r); "
                "Redis hands them out again after the visibility timeout", error,
            )
