"""Asking the running search service instead of loading the model in this process.

When `ragmill up` runs, its search service (stack.json's serve_url) already holds the model, so
`ragmill query` and `ragmill ask` send the question there: an HTTP round trip instead of starting
a Chroma server and loading the model. They use it only when it answers for the same collection
on the same Chroma server with the same model, backend and variant as the command's own settings
(then it returns exactly what the command would find itself); otherwise, and whenever it cannot
answer, the command searches on its own as before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import requests

from pipeline.errors import UsageError
from pipeline.search.filters import Filters
from pipeline.search.query import Result
from pipeline.stack.cluster import Cluster
from tasks.collection_record import quantisation_of
from tasks.settings import Settings

# The service answers /health at once when it is up; a service that does not is not used.
HEALTH_SECONDS = 2.0
# A search takes milliseconds; a busy machine may take seconds.
SEARCH_SECONDS = 60.0


def reader_of(settings: Settings) -> dict[str, str]:
    """What makes a question's vector: the service's /health reports its own, and a command
    uses the service only when they are its own too. The variant is named as a collection
    records it (an unset EMBED_VARIANT is the backend's default), so either way of naming one
    variant matches."""
    return {"model": settings.model, "backend": settings.embed_backend,
            "variant": quantisation_of(settings.embed_backend, settings.embed_variant)}


class ServiceClient:
    """A running search service, spoken to in the CLI's own terms (Filters in, Results out)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def health(self) -> Mapping[str, Any] | None:
        """The service's /health, or None when it does not answer 200."""
        try:
            answer = self.session.get(f"{self.url}/health", timeout=HEALTH_SECONDS)
            return answer.json() if answer.status_code == 200 else None
        except (requests.RequestException, ValueError):
            return None

    def search(self, text: str, k: int, filters: Filters, mode: str) -> list[Result] | None:
        """The service's answer to the search, or None when it could not give one (gone, or
        the collection does not exist yet: the command's own path says what to do then).

        A request the service refuses raises the same one-line error the command would.
        """
        params: dict[str, Any] = {"q": text, "k": k, "mode": mode}
        for name, value in filters.as_dict().items():
            params[name] = json.dumps(value) if name == "where" else value
        try:
            answer = self.session.get(f"{self.url}/api/search", params=params,
                                      timeout=SEARCH_SECONDS)
            body = answer.json()
        except (requests.RequestException, ValueError):
            return None
        if answer.status_code == 200:
            return [Result(**found) for found in body]
        if answer.status_code == 400:
            raise UsageError(str(body.get("error")))
        # The rest (no such collection yet, a refused token, Chroma gone) the command's own
        # path meets and explains in its own words.
        return None


def running_service(settings: Settings, cluster: Cluster) -> ServiceClient | None:
    """The `ragmill up` search service of `cluster` to send `settings`' questions to, or None
    when there is none, or it serves another collection, Chroma server or model."""
    info = cluster.stack
    if info is None or cluster.service_url is None:
        return None
    if settings.chroma_url and settings.chroma_url.rstrip("/") != info.chroma_url.rstrip("/"):
        return None
    client = ServiceClient(cluster.service_url, settings.serve_token)
    health = client.health()
    if (health is None or health.get("collection") != settings.collection
            or health.get("reader") != reader_of(settings)):
        return None
    return client
