"""Errors of the LLM stage, sorted by what the caller should do next.

    LLMError                  anything that went wrong talking to the LLM
    ├── LLMNotConfigured      LLM_BASE_URL / LLM_MODEL unset
    ├── RateLimited           the endpoint said 429: everyone waits `wait` seconds
    ├── TransientLLMError     5xx, timeout, connection error: retry with backoff
    ├── MalformedReply        the reply is not the JSON a chat completion returns: final
    ├── LLMRequestRejected    4xx other than 429 (bad key, unknown model): final

The shared limit's own refusals (AdmissionTimeout, RequestTooLarge) are tasks/endpoint/errors.py's.
"""

from __future__ import annotations

from tasks.endpoint.errors import EndpointError, EndpointRateLimited, TransientEndpointError

# What every front end says when asked for an answer without an LLM: the CLI, the Python API,
# the HTTP API and MCP all answer with the closest passages and no answer beside it.
NO_LLM = ("No LLM is configured (set LLM_BASE_URL to an OpenAI-compatible /v1 URL, and "
          "LLM_MODEL)")


class LLMError(EndpointError):
    """Anything that went wrong talking to the LLM."""


class LLMNotConfigured(LLMError):
    """No LLM endpoint is configured."""


class RateLimited(EndpointRateLimited, LLMError):
    """The endpoint answered 429; every worker must wait `wait` seconds."""


class TransientLLMError(TransientEndpointError, LLMError):
    """A failure that may pass: 5xx, timeout, connection refused or reset."""


class MalformedReply(LLMError):
    """The endpoint answered 200 with something that is not a chat completion."""


class LLMRequestRejected(LLMError):
    """The endpoint refused the request itself (4xx other than 429); retrying will not help."""
