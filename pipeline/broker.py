"""The client's connection to a cluster's Redis, with errors that say what to do."""

from __future__ import annotations

from urllib.parse import urlsplit

import redis
from celery import Celery
from redis.backoff import NoBackoff
from redis.retry import Retry

from tasks.resources import redis_retry
from tasks.settings import mask_url


class BrokerUnavailable(RuntimeError):
    """The cluster's Redis cannot be reached."""


def connect(redis_url: str, timeout: float = 5.0) -> redis.Redis:
    """A Redis client for `redis_url` that has answered PING, or BrokerUnavailable.

    The first PING is tried once, so a broker that is not there fails at once instead of after
    a minute of retries; the client returned then rides out a Redis restart (see redis_retry).
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
        probe.ping()
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


def lost_broker(redis_url: str, run_id: str) -> BrokerUnavailable:
    """The error for a Redis that went away during a run and did not come back in time."""
    return BrokerUnavailable(
        f"lost Redis at {mask_url(redis_url)} during run {run_id} and it did not come back "
        "within a minute; what was stored stays stored: start Redis again (`ragmill up` for a "
        "local one) and run the same command to finish"
    )


def bind_app(app: Celery, redis_url: str) -> Celery:
    """Point the Celery app at `redis_url` before it opens any connection."""
    app.conf.broker_url = redis_url
    return app


def queues_served(app: Celery, timeout: float = 2.0) -> set[str]:
    """Names of the queues that at least one live worker consumes."""
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    return {queue["name"] for queues in replies.values() for queue in queues}
