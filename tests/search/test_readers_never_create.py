"""Readers never create a collection: a mistyped name is one line naming the collections there.

The read commands run as a user runs them, against a real Chroma server; afterwards the server's
own list shows the mistyped name was not made. The search service's other collections are kept
open in a small LRU, and a name that does not exist is never kept.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from pipeline.search.library import Library, UnknownCollection
from pipeline.serve.app import KEPT_LIBRARIES, Libraries
from pipeline.stack.collection import LISTED_COLLECTIONS
from tasks.embedding import Embedder
from tasks.settings import Settings
from tasks.store import ChunkStore, chroma_client
from tests.conftest import run_cli
from tests.search.conftest import LIBRARY

pytestmark = pytest.mark.e2e

MISTYPED = "frankenstien"


def names_on(library: Settings) -> set[str]:
    return {c.name for c in chroma_client(str(library.chroma_url)).list_collections()}


@pytest.mark.parametrize(
    "args",
    [
        ["query", "a monster made by a scientist", "--collection", MISTYPED],
        ["eval", "--collection", LIBRARY, "--compare", MISTYPED],
        ["books", "--collection", MISTYPED],
    ],
    ids=["query", "eval --compare", "books"],
)
def test_a_mistyped_collection_is_one_line_naming_those_there_and_is_not_created(
    args: list[str], library: Settings
) -> None:
    env = {**os.environ, "CHROMA_URL": str(library.chroma_url), "HF_HUB_OFFLINE": "1"}
    env.pop("REDIS_URL", None)
    env.pop("RAGMILL_COLLECTION", None)
    done = run_cli(args, env)
    assert done.code == 2, done.stderr
    assert done.stderr.count("\n") == 1 and not done.stdout, done.stderr
    assert done.stderr.startswith(
        f"error: collection {MISTYPED} does not exist on {library.chroma_url}; collections there: "
    )
    assert LIBRARY in done.stderr.split("collections there: ")[1]
    assert MISTYPED not in names_on(library)


def test_the_message_stays_one_line_however_many_collections_or_odd_the_name() -> None:
    many = SimpleNamespace(list_collections=lambda: [SimpleNamespace(name=f"c{i:03d}")
                                                     for i in range(LISTED_COLLECTIONS + 5)])
    message = str(UnknownCollection.on(many, "x\ny" * 100, "http://chroma:8000"))
    assert "\n" not in message and len(message) < 600
    assert message.endswith("c019 and 5 more (`ragmill collections` lists them)")
    none = SimpleNamespace(list_collections=lambda: [])
    assert str(UnknownCollection.on(none, "ragmill", "http://chroma:8000")) == (
        "collection ragmill does not exist on http://chroma:8000; there are no collections "
        "there yet; `ragmill ingest` makes one"
    )


def test_the_service_keeps_the_most_recent_collections_and_never_a_missing_one(
    library: Settings, embedder: Embedder
) -> None:
    names = [f"kept_{i}" for i in range(KEPT_LIBRARIES + 1)]
    for name in names:
        ChunkStore.connect(str(library.chroma_url), name)  # a writer makes them
    libraries = Libraries(Library(settings=library, embedder=embedder))
    first = {name: libraries.get(name, for_questions=False) for name in names}
    # The last KEPT_LIBRARIES asked for are kept, the oldest of them now names[1].
    assert all(libraries.get(name, for_questions=False) is first[name] for name in names[1:])
    with pytest.raises(UnknownCollection, match=f"collection {MISTYPED} does not exist"):
        libraries.get(MISTYPED)
    assert MISTYPED not in names_on(library)
    # Had the missing name been kept, it would have pushed names[1] out.
    assert libraries.get(names[1], for_questions=False) is first[names[1]]
    # names[0] was let go, and is opened anew.
    assert libraries.get(names[0], for_questions=False) is not first[names[0]]
