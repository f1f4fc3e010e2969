"""Errors of remote embedding, sorted by what the caller should do next.

    RemoteEmbedError            anything that went wrong talking to the embeddings endpoint
    ├── EmbedRateLimited        the endpoint said 429: every process waits `wait` seconds
    ├── TransientEmbedError     5xx, timeout, connection error: retry with backoff
    ├── EmbedLimitBusy          the shared limit admitted nothing within a question's wait
    └── FinalEmbedError         retrying will not help; the batch's book fails with this line
        ├── EmbedRequestRejected   401/403 (the key), 404 (the model or URL), other 4xx
        ├── EmbedBatchTooLarge     413, or a 400 saying the batch or an input is too large
        └── MalformedEmbedReply    not the JSON /v1/embeddings returns, or the wrong dimension

Every message names the endpoint's URL and never the API key.
"""

from __future__ import annotations

from tasks.endpoint.errors import EndpointError, EndpointRateLimited, TransientEndpointError


class RemoteEmbedError(EndpointError):
    """Anything that went wrong talking to the embeddings endpoint."""


class EmbedRateLimited(EndpointRateLimited, RemoteEmbedError):
    """The endpoint answered 429; every process must wait `wait` seconds (-1: it did not say)."""


class TransientEmbedError(TransientEndpointError, RemoteEmbedError):
    """A failure that may pass: 5xx, timeout, connection refused or reset."""


class EmbedLimitBusy(RemoteEmbedError):
    """The shared limit would not admit a request before its caller's bound (a question)."""


class FinalEmbedError(RemoteEmbedError):
    """A failure that the same request would meet again."""


class EmbedRequestRejected(FinalEmbedError):
    """The endpoint refused the request (bad key, unknown model, bad parameters)."""


class EmbedBatchTooLarge(FinalEmbedError):
    """The endpoint refused a request as too large; a setting must be lowered."""


class MalformedEmbedReply(FinalEmbedError):
    """The endpoint answered 200 with something that is not the embeddings asked for."""
