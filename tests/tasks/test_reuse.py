"""Vector reuse against a real Chroma server: one vector per stored text, whatever its copies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tasks.reuse import HASH_KEY, stored_vectors, text_hash
from tasks.store import chroma_client
from tests.support.servers import chroma_server


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chroma_server(tmp_path_factory.mktemp("reuse-chroma")) as url:
        yield chroma_client(url).get_or_create_collection("reuse")


def test_each_stored_text_gives_its_vector_once_and_unknown_texts_none(collection: Any) -> None:
    rng = np.random.default_rng(7)
    texts = ["the whale", "the rose", "the lighthouse"]
    hashes = [text_hash("form", t) for t in texts]
    vectors = rng.normal(size=(3, 8)).astype(np.float32)
    # Three copies of each of the first two texts (books stored under several ids).
    ids, rows, metas = [], [], []
    for copy in range(3):
        for i in range(2):
            ids.append(f"book{copy}:{i}")
            rows.append(vectors[i])
            metas.append({HASH_KEY: hashes[i]})
    collection.add(ids=ids, embeddings=np.stack(rows), documents=texts[:2] * 3, metadatas=metas)
    found = stored_vectors(collection, hashes)
    assert sorted(found) == sorted(hashes[:2])
    for i in range(2):
        assert np.allclose(found[hashes[i]], vectors[i], atol=1e-6)
    assert stored_vectors(collection, [text_hash("another form", texts[0])]) == {}
