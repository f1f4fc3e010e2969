"""One POST to an OpenAI-compatible endpoint, with the answers every stage treats alike.

Chat completions (tasks/llm/client.py) and embeddings (tasks/embedding/remote_client.py) both go
through `EndpointSession.post`: no reply or no connection, a 429 with its Retry-After, and a 5xx
are mapped here, to each stage's own error classes, so a message still says which endpoint
failed. What a 4xx means differs by stage (a key, a model, a batch too large), so each client reads
those itself. requests rather than the `openai` SDK: the SDK's own retries would have to be
switched off anyway, since retrying is the shared limit's business (tasks/endpoint/ratelimit/).
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from tasks.endpoint.errors import EndpointRateLimited, TransientEndpointError


@dataclass(frozen=True)
class ErrorKinds:
    """The stage's own classes for the two answers that pass: a 429 and a transient failure."""

    rate_limited: type[EndpointRateLimited]
    transient: type[TransientEndpointError]


class EndpointSession:
    """A requests.Session for one endpoint with its key; one per thread (a Session is not
    shared between threads)."""

    def __init__(self, api_key: str | None, kinds: ErrorKinds,
                 session: requests.Session | None = None) -> None:
        self.kinds = kinds
        self.session = session or requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def post(self, url: str, body: dict[str, Any], timeout: tuple[float, float]
             ) -> requests.Response:
        """The endpoint's response to `body` when it is below 500 and not a 429; otherwise the
        stage's rate-limited or transient error."""
        try:
            response = self.session.post(url, json=body, timeout=timeout)
        except requests.Timeout:
            raise self.kinds.transient(f"{url}: no reply within the timeout") from None
        except requests.ConnectionError as exc:
            raise self.kinds.transient(
                f"{url}: connection failed ({type(exc).__name__})"
            ) from None
        if response.status_code == 429:
            wait = retry_after(response.headers)
            raise self.kinds.rate_limited(
                f"{url}: 429 rate limited"
                + (f", retry after {wait:.2f} s" if wait is not None else ""),
                wait if wait is not None else -1.0,
            )
        if response.status_code >= 500:
            raise self.kinds.transient(f"{url}: server error {response.status_code}")
        return response


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds a 429 asks us to wait: `retry-after-ms`, or `Retry-After` as seconds or HTTP date."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            ms = float(raw_ms)
            if math.isfinite(ms) and ms >= 0:
                return ms / 1000.0
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
