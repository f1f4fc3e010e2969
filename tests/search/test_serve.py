"""The search service as a real uvicorn process over a real Chroma server.

Its answers are the CLI's (the same JSON for the same question), every bad request is a 4xx with
one line of JSON and leaves it serving, and beyond loopback it needs its token.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient

from pipeline.search.library import Library
from pipeline.serve.app import create_app
from pipeline.stack.processes import free_port
from tasks.collection_record import claim
from tasks.embedding import Embedder
from tasks.settings import Settings
from tasks.store import ChunkStore
from tests.conftest import RAGMILL, run_cli
from tests.search.conftest import Service, fill, serve_process

pytestmark = pytest.mark.e2e

TOKEN = "a-test-token-of-some-length"


def get(service: Service, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{service.url}{path}", params=params, timeout=60)


def test_health_names_the_loaded_model(service: Service) -> None:
    health = get(service, "/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["collection"] == "library"


def test_search_answers_exactly_what_the_cli_prints(service: Service) -> None:
    asked = {"q": "roses in a walled garden", "k": 4, "language": "en"}
    api = get(service, "/api/search", **asked)
    cli = run_cli(["query", "roses in a walled garden", "-k", "4", "--language", "en",
                   "--json"], service.env)
    assert api.status_code == 200 and cli.code == 0, cli.stderr
    assert api.json() == cli.json()
    assert [r["book_id"] for r in api.json()] == ["1002"] * 4


def test_filters_repeat_and_combine(service: Service) -> None:
    found = get(service, "/api/search", q="steam", k=20, book=["1001", "1002"],
                where='{"position": {"$lt": 3}}').json()
    assert sorted((r["book_id"], r["position"]) for r in found) == [
        (b, p) for b in ("1001", "1002") for p in range(3)
    ]
    chapter = get(service, "/api/search", q="roses", chapter="Chapter 1").json()
    assert {r["chapter"] for r in chapter} == {"Chapter 1"} and chapter[0]["page_first"]


def test_books_and_collections(service: Service) -> None:
    books = get(service, "/api/books").json()
    assert [(b["book_id"], b["chunks"]) for b in books] == [("1001", 6), ("1002", 6),
                                                              ("1003", 6)]
    names = [c["name"] for c in get(service, "/api/collections").json()]
    assert "library" in names


def test_ask_answers_with_its_cited_passages(service: Service) -> None:
    answer = get(service, "/api/ask", q="What did the harpooner watch?", k=3, book="1001")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["answer"] and body["sources"]
    assert all(s["book_id"] == "1001" and s["label"] in body["answer"] for s in body["sources"])


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        ("/api/search", {"q": ""}, 400, "the question is empty"),
        ("/api/search", {"q": "x" * 100_000}, 400, "100,000 characters"),
        ("/api/search", {"q": "whales", "k": 0}, 400, "k=0 is out of range"),
        ("/api/search", {"q": "whales", "k": 10_000}, 400, "k=10000 is out of range"),
        ("/api/search", {"q": "whales", "k": "many"}, 400, "k: "),
        ("/api/search", {"q": "whales", "book": "999"}, 400, "book 999 is not in collection"),
        ("/api/search", {"q": "whales", "where": "{oops"}, 400, "not valid JSON"),
        ("/api/search", {"q": "whales", "where": '{"a": 1, "b": 2}'}, 400,
         "not a Chroma filter"),
        ("/api/search", {"q": "whales", "collection": "nope"}, 404,
         "collection nope does not exist"),
        ("/api/ask", {"q": " "}, 400, "the question is empty"),
        ("/api/books", {"collection": "nope"}, 404, "collection nope does not exist"),
    ],
)
def test_bad_requests_are_one_line_of_json_and_the_service_keeps_serving(
    service: Service, path: str, params: dict[str, Any], status: int, says: str
) -> None:
    answer = get(service, path, **params)
    assert answer.status_code == status, answer.text
    message = answer.json()["error"]
    assert says in message and "\n" not in message and "Traceback" not in message
    assert get(service, "/health").status_code == 200


def test_the_page_is_served_and_holds_no_secret(service: Service) -> None:
    page = get(service, "/")
    assert page.status_code == 200 and "ragmill search" in page.text
    assert "test-model" not in page.text and "Bearer a" not in page.text
    assert get(service, "/docs").status_code == 200


def test_without_an_llm_ask_gives_the_closest_passages(library: Settings,
                                                       embedder: Embedder) -> None:
    plain = Library(settings=library.with_changes(llm=library.llm.__class__()),
                    embedder=embedder)
    with TestClient(create_app(plain)) as client:
        body = client.get("/api/ask", params={"q": "whales", "k": 2}).json()
    assert body["answer"] is None and [s["book_id"] for s in body["sources"]] == ["1001"] * 2


def test_another_collection_made_by_another_backend_is_refused_not_searched(
    library: Settings, embedder: Embedder
) -> None:
    other = ChunkStore.connect(str(library.chroma_url), "made_by_torch")
    claim(other, library.with_changes(embed_backend="torch", embed_variant=""))
    fill(other, Embedder(library.model, backend="torch"), books=("1001",))
    with TestClient(create_app(Library(settings=library, embedder=embedder))) as client:
        refused = client.get("/api/search", params={"q": "whales", "collection": "made_by_torch"})
        served = client.get("/api/search", params={"q": "whales"})
        listed = client.get("/api/books", params={"collection": "made_by_torch"})
    assert listed.status_code == 200 and [b["book_id"] for b in listed.json()] == ["1001"]
    assert refused.status_code == 400 and "\n" not in refused.text
    assert "made_by_torch" in refused.text and "EMBED_BACKEND=torch" in refused.text
    assert served.status_code == 200 and served.json()[0]["book_id"] == "1001"


def test_beyond_loopback_it_refuses_to_start_without_a_token(library: Settings) -> None:
    done = subprocess.run(
        [RAGMILL, "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env={**run_env(library), "RAGMILL_SERVE_TOKEN": ""}, capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "RAGMILL_SERVE_TOKEN" in done.stderr


def test_with_a_token_the_api_needs_it_and_health_does_not(library: Settings,
                                                           tmp_path: Path) -> None:
    with serve_process(library, tmp_path / "serve.log", host="0.0.0.0",
                       RAGMILL_SERVE_TOKEN=TOKEN) as guarded:
        url = f"{guarded.url}/api/search"
        assert requests.get(url, params={"q": "whales"}, timeout=30).status_code == 401
        wrong = requests.get(url, params={"q": "whales"}, timeout=30,
                             headers={"Authorization": "Bearer wrong-token-wrong-token"})
        assert wrong.status_code == 401 and "token" in wrong.json()["error"]
        right = requests.get(url, params={"q": "whales"}, timeout=30,
                             headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200 and right.json()[0]["book_id"] == "1001"
        assert requests.get(f"{guarded.url}/health", timeout=30).status_code == 200
        assert TOKEN not in requests.get(guarded.url, timeout=30).text


def run_env(library: Settings) -> dict[str, str]:
    return {**os.environ, "CHROMA_URL": str(library.chroma_url),
            "RAGMILL_COLLECTION": library.collection, "HF_HUB_OFFLINE": "1"}
