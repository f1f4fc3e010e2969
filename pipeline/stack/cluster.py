"""Where the cluster is: the one place every command, the Library and the service ask.

`find_cluster(settings)` looks once: REDIS_URL and CHROMA_URL as set, the rest from the local
stack that owns the data directory (`ragmill up`, or an ingest's private stack) when one runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from pipeline.stack.local import LocalStack, StackInfo, StackPlan, running_stack
from tasks.settings import Settings


@dataclass(frozen=True)
class Cluster:
    """The Redis, Chroma server and search service a command uses, and the stack they are in."""

    redis_url: str | None
    chroma_url: str | None
    service_url: str | None
    # The local stack under the data directory, when one runs (whether or not it is used).
    stack: StackInfo | None

    @property
    def kept_up(self) -> bool:
        """A `ragmill up` stack runs here: other commands may use its workers and service."""
        return self.stack is not None and self.stack.mode == "up"

    @property
    def needs_private_stack(self) -> bool:
        """Nothing runs to ingest with: an ingest starts a private stack of its own."""
        return self.redis_url is None

    def settings(self, settings: Settings) -> Settings:
        """`settings` with the Redis and Chroma found here filled in where they were unset, so a
        question's LLM call or endpoint embedding joins the limit the stack's workers share."""
        return settings.with_changes(
            redis_url=settings.redis_url or self.redis_url,
            chroma_url=settings.chroma_url or self.chroma_url,
        )


def find_cluster(settings: Settings) -> Cluster:
    """The cluster `settings` name, completed by the running local stack of their data dir."""
    stack = running_stack(settings.data_dir)
    return Cluster(
        redis_url=settings.redis_url or (stack.redis_url if stack else None),
        chroma_url=settings.chroma_url or (stack.chroma_url if stack else None),
        service_url=stack.serve_url if stack and stack.serve_url else None,
        stack=stack,
    )


@contextlib.contextmanager
def workers_for(found: Cluster, settings: Settings, plan: StackPlan) -> Iterator[StackInfo | None]:
    """The workers an ingest uses: REDIS_URL's, a running `ragmill up`, or a private stack for
    the block (`plan`). Yields None when REDIS_URL points at an outside cluster."""
    if settings.redis_url is not None:
        yield None
        return
    if found.kept_up:
        yield found.stack
        return
    with LocalStack(settings.data_dir, plan) as info:
        yield info
