"""The two failures of an OpenAI-compatible endpoint that a call under the shared limit retries.

Chat completions (tasks/llm/errors.py) and embeddings (tasks/embedding/errors.py) each have
their own error tree, so a message says which endpoint failed; their 429 and their transient
failure also derive from these, so tasks/endpoint/ratelimit/retrying.py treats both alike.
"""

from __future__ import annotations


class EndpointRateLimited(Exception):
    """The endpoint answered 429; every process must wait `wait` seconds (-1: it did not say)."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


class TransientEndpointError(Exception):
    """A failure that may pass: 5xx, timeout, connection refused or reset."""
