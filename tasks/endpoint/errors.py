"""Failures of an OpenAI-compatible endpoint and of the limit every process shares for it.

Chat completions (tasks/llm/errors.py) and embeddings (tasks/embedding/errors.py) each have
their own error tree, so a message says which endpoint failed; their 429 and their transient
failure also derive from the two here, so tasks/endpoint/ratelimit/retrying.py treats both
alike. The limiter's own errors (AdmissionTimeout, RequestTooLarge) belong to neither stage.
"""

from __future__ import annotations

from tasks.errors import TaskError


class EndpointError(TaskError, RuntimeError):
    """Anything that went wrong with an endpoint or its shared limit."""


class AdmissionTimeout(EndpointError):
    """The limit did not admit a request before the caller's deadline."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class RequestTooLarge(EndpointError):
    """One request needs more tokens than the limit allows in a whole window: final."""


class EndpointRateLimited(EndpointError):
    """The endpoint answered 429; every process must wait `wait` seconds (-1: it did not say)."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class TransientEndpointError(EndpointError):
    """A failure that may pass: 5xx, timeout, connection refused or reset."""
