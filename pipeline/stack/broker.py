"""The client's connection to a cluster's Redis, with errors that say what to do."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import redis
from celery import Celery
from celery.app.control import Control
from kombu.exceptions import OperationalError
from redis.backoff import NoBackoff
from redis.retry import Retry

from pipeline.errors import RagmillError
from tasks.resources import redis_retry
from tasks.setting_checks import mask_url

# How long a refused first connection is tried again, and how often (see `connect`).
REFUSED_GRACE = 5.0
REFUSED_PAUSE = 0.25


class BrokerUnavailable(RagmillError):
    """The cluster's Redis cannot be reached."""


def connect(redis_url: str, timeout: float = 5.0) -> redis.Redis:
    """A Redis client for `redis_url` that has answered PING, or BrokerUnavailable.

    A broker that is not there fails within seconds instead of after a minute of retries: the
    first PING is tried once, except that a refused connection is tried again for up to
    REFUSED_GRACE seconds (a Redis restarting takes about a second, and a run started in that
    second should not stop). The client returned then rides out a Redis restart (redis_retry).
    """
    probe = redis.Redis.from_url(
        redis_url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
    client = redis.Redis.from_url(
        redis_url,
        socket_connect_timeout=timeout,
        socket_timeout=30,
        health_check_interval=30,
        retry=redis_retry(),
    )
    try:
        _first_ping(probe)
    except redis.AuthenticationError:
        if urlsplit(redis_url).password is None:
            raise BrokerUnavailable(
                f"Redis at {mask_url(redis_url)} asks for a password; put it in REDIS_URL "
                "as redis://:PASSWORD@host:port/0"
            ) from None
        raise BrokerUnavailable(
            f"Redis at {mask_url(redis_url)} refused the password; check REDIS_URL"
        ) from None
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise BrokerUnavailable(
            f"cannot reach Redis at {mask_url(redis_url)} ({exc}); start a cluster with "
            "`ragmill up`, or unset REDIS_URL to let ragmill start a private one"
        ) from None
    finally:
        probe.close()
    return client


def _first_ping(probe: redis.Redis) -> None:
    """PING once; again every REFUSED_PAUSE seconds while the connection is refused, for up to
    REFUSED_GRACE seconds. A timeout is not retried: a host that does not answer would wait
    the socket timeout each time."""
    deadline = time.monotonic() + REFUSED_GRACE
    while True:
        try:
            probe.ping()
            return
        except redis.ConnectionError as exc:
            refused = isinstance(exc.__cause__ or exc.__context__, ConnectionRefusedError) or (
                "Connection refused" in str(exc)
            )
            if not refused or time.monotonic() + REFUSED_PAUSE > deadline:
                raise
            time.sleep(REFUSED_PAUSE)


def lost_broker(redis_url: str, run_id: str) -> BrokerUnavailable:
    """The error for a Redis that went away during a run and did not come back in time."""
    return BrokerUnavailable(
        f"lost Redis at {mask_url(redis_url)} during run {run_id} and it did not come back "
        "within a minute; what was stored stays stored: start Redis again (`ragmill up` for a "
        "local one) and run the same command to finish"
    )


def client_app(redis_url: str) -> Celery:
    """A Celery client of its own for the cluster at `redis_url`: it sends tasks and asks workers.

    Not `tasks.celery`: a Celery app keeps the connection pool of the first broker it used, so a
    process that talks to more than one cluster (a benchmark, a test session) needs one each.
    """
    from tasks.celery_config import celery_config
    from tasks.settings import Settings

    app = Celery("ragmill-client", set_as_current=False, control=PatientControl)
    app.conf.update(celery_config(Settings(redis_url=redis_url)))
    return app


class PatientControl(Control):
    """Celery's remote control, whose questions to the workers (`inspect`, `ping`) ride out a
    Redis restart as the client's other Redis calls do (`redis_retry`, about a minute).

    Celery sends a broadcast once: a Redis stopped while the client waits for the replies, not
    yet started again, or restarted since the pooled connection was made raises at once, and a
    run asking whether its work is still held (pipeline/ingest/submission.py) would stop as if
    Redis were gone for good.
    """

    def broadcast(self, *args: Any, **kwargs: Any) -> Any:
        ask = super().broadcast
        retry = redis_retry()
        retry.update_supported_errors([OperationalError])
        return retry.call_with_retry(lambda: ask(*args, **kwargs), lambda error: None)


@contextmanager
def control(redis_url: str) -> Iterator[Celery]:
    """`client_app(redis_url)` for the length of a block, its connections closed after."""
    app = client_app(redis_url)
    try:
        yield app
    finally:
        app.close()


def nodes_answering(app: Celery, timeout: float = 0.5) -> set[str]:
    """Names (like embed@host) of the workers that answer a ping."""
    return {name for reply in app.control.ping(timeout=timeout) for name in reply}


def queues_served(app: Celery, timeout: float = 2.0) -> set[str]:
    """Names of the queues that at least one live worker consumes."""
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    return {queue["name"] for queues in replies.values() for queue in queues}
