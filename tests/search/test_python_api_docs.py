"""Every Python example in docs/python-api.md runs, in order, against real services.

The examples run as written, with two substitutions: the Chroma URL becomes the test server's and
the collection name the test's own. They ingest examples/books/ through real workers, search with
filters, ask the local OpenAI-compatible test server, list and delete books.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cluster
from tests.support.chat_server import serve_llm

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "python-api.md"


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


@pytest.fixture
def llm_url() -> Iterator[str]:
    with serve_llm() as server:
        yield server.url


def test_every_example_runs_and_does_what_the_page_says(
    cluster: Cluster, collection: str, llm_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in cluster.env(LLM_BASE_URL=llm_url, LLM_MODEL="test-model").items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) == 6
    namespace: dict[str, Any] = {}
    for block in blocks:
        code = block.replace('"http://127.0.0.1:8000"', repr(cluster.chroma_url)).replace(
            'collection="books"', f"collection={collection!r}"
        )
        exec(compile(code, str(DOC), "exec"), namespace)  # the page's own examples

    assert namespace["run"].report.ok and namespace["run"].report.snapshot.books_done == 3
    assert namespace["results"][0].book_id == "84"
    assert {r.book_id for r in namespace["only_alice"]} == {"11"}
    assert {r.author for r in namespace["by_authors"]} <= {"Lewis Carroll",
                                                           "Frances Ridley Havergal"}
    assert namespace["early"] and all(r.position < 20 and r.book_id == "84"
                                      for r in namespace["early"])
    answer = namespace["answer"]
    assert answer.cited and {r.book_id for r in answer.cited} == {"84"}
    deleted = namespace["deleted"]
    assert list(deleted.chunks) == ["11563"] and deleted.chunks["11563"] > 0
    assert deleted.unknown == ["no-such-book"]
    library = namespace["library"]
    assert [b.book_id for b in library.books()] == ["11", "84"]
    printed = capsys.readouterr().out
    assert "Frankenstein" in printed and f"{collection} " in printed
