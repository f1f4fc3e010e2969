"""One POST <base>/embeddings to an OpenAI-compatible endpoint over requests, errors sorted by kind.

OpenAI, text-embeddings-inference (TEI), vLLM, Ollama and LiteLLM all answer
{"data": [{"index": i, "embedding": [...]}, ...], "usage": {"prompt_tokens": n, ...}}.
The transport, 429 and 5xx are the shared endpoint client's (tasks/endpoint/http.py); what a 4xx
means for an embeddings request is read here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import requests

from tasks.embedding.errors import (
    EmbedBatchTooLarge,
    EmbedRateLimited,
    EmbedRequestRejected,
    MalformedEmbedReply,
    TransientEmbedError,
)
from tasks.endpoint.http import EndpointSession, ErrorKinds
from tasks.settings import RemoteEmbedSettings

# How endpoints word a 400 that means "this request is too big" (OpenAI, TEI, vLLM, Ollama).
TOO_LARGE = re.compile(
    r"too large|too long|too many|maximum|max_client_batch_size|batch size|exceeds|context length",
    re.IGNORECASE,
)
EMBED_ERRORS = ErrorKinds(rate_limited=EmbedRateLimited, transient=TransientEmbedError)
LOWER_SIZE = (
    "lower EMBED_MAX_INPUTS or EMBED_MAX_REQUEST_TOKENS (RAGMILL_CHUNK_TOKENS if one chunk is "
    "too long)"
)


@dataclass(frozen=True)
class EmbedReply:
    """Unit float32 rows in input order and the tokens the endpoint counted (None if silent)."""

    vectors: np.ndarray
    tokens: int | None


class EmbeddingsClient:
    """Sends embeddings requests to one endpoint; one per thread (a Session is not shared)."""

    def __init__(
        self, settings: RemoteEmbedSettings, model: str, session: requests.Session | None = None
    ) -> None:
        self.settings = settings
        self.model = model
        self.url = settings.embeddings_url
        self.http = EndpointSession(settings.api_key, EMBED_ERRORS, session)

    def embed(self, texts: Sequence[str]) -> EmbedReply:
        """One request for `texts`; raises EmbedRateLimited, TransientEmbedError or a
        FinalEmbedError (see tasks.embedding.errors)."""
        body: dict[str, Any] = {
            "model": self.model, "input": list(texts), "encoding_format": "float"
        }
        if self.settings.dimensions is not None:
            body["dimensions"] = self.settings.dimensions
        response = self.http.post(
            self.url, body, timeout=(self.settings.connect_timeout, self.settings.timeout)
        )
        self._raise_for_status(response)
        return parse_reply(self.url, response.text, len(texts), self.settings.dimensions)

    def _raise_for_status(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:  # 429 and 5xx were sorted by the shared client
            return
        said = self._excerpt(response.text)
        if status == 413 or (status == 400 and TOO_LARGE.search(response.text)):
            raise EmbedBatchTooLarge(f"{self.url}: {status}, the request is too large ({said}); "
                                     + LOWER_SIZE)
        if status in (401, 403):
            raise EmbedRequestRejected(
                f"{self.url}: {status}, the endpoint refused the key ({said}); check EMBED_API_KEY"
            )
        raise EmbedRequestRejected(
            f"{self.url}: the endpoint refused the request with {status} ({said}); check "
            "EMBED_MODEL and EMBED_DIMENSIONS"
        )

    def _excerpt(self, text: str) -> str:
        """The start of a reply body on one line, without the key if the endpoint echoed it."""
        line = " ".join(text.split())[:160]
        key = self.settings.api_key
        return line.replace(key, "***") if key else line


def parse_reply(url: str, text: str, count: int, dimensions: int | None) -> EmbedReply:
    """The vectors in an embeddings reply, or MalformedEmbedReply saying what is wrong."""
    try:
        data: Any = json.loads(text)
        rows = sorted(data["data"], key=lambda row: row["index"])
        vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
    except (ValueError, KeyError, TypeError):
        raise MalformedEmbedReply(
            f"{url}: the reply is not an embeddings list (starts with {text[:80]!r}); is "
            "EMBED_BASE_URL an OpenAI-compatible /v1 endpoint?"
        ) from None
    if vectors.ndim != 2 or vectors.shape[0] != count:
        raise MalformedEmbedReply(
            f"{url}: {count} inputs were sent but the reply holds {len(rows)} vectors of uneven "
            "or missing length" if vectors.ndim != 2 else
            f"{url}: {count} inputs were sent but the reply holds {vectors.shape[0]} vectors"
        )
    if dimensions is not None and vectors.shape[1] != dimensions:
        raise MalformedEmbedReply(
            f"{url}: the vectors have {vectors.shape[1]} dimensions, not EMBED_DIMENSIONS="
            f"{dimensions}; does the model support `dimensions`?"
        )
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise MalformedEmbedReply(f"{url}: the reply holds zero or non-finite vectors")
    usage = data.get("usage") if isinstance(data, dict) else None
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    if not isinstance(tokens, int) or tokens < 0:
        tokens = None
    return EmbedReply((vectors / norms).astype(np.float32), tokens)
