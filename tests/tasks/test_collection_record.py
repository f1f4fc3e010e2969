"""The collection record against a real Chroma server: written once, kept, and refusing a
different vector space in one line."""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tasks.collection_record import (
    PREFIX,
    RecordMismatch,
    WorkerCheck,
    check_reader,
    claim,
    expected_record,
    model_dimension,
    model_fingerprint,
    quantisation_of,
    read_record,
    recorded_form,
    same_form_family,
    write_record,
)
from tasks.embedding.embedder import Embedder
from tasks.embedding.variants import default_variant, int8_config
from tasks.settings import Settings, default_model
from tasks.store import ChunkStore
from tests.support.chunks import real_book_chunks
from tests.support.servers import chroma_server

# Another int8 file than the default's: dynamic int8 for this CPU, onnx-int8's earlier default.
DYNAMIC = f"int8-dynamic-{int8_config()}"

_names = itertools.count()


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chroma_server(tmp_path_factory.mktemp("record-chroma")) as url:
        yield url


@pytest.fixture
def store(chroma_url: str) -> ChunkStore:
    return ChunkStore.connect(chroma_url, f"record_{next(_names)}")


@pytest.fixture(scope="module")
def settings() -> Settings:
    """fp32 ONNX: what a collection without a record is taken to hold."""
    return Settings.from_env({"EMBED_BACKEND": "onnx"})


def put_chunks(store: ChunkStore) -> None:
    vectors = np.array([[1.0] + [0.0] * 383, [0.6, 0.8] + [0.0] * 382], dtype=np.float32)
    store.upsert(["a", "b"], vectors, ["one", "two"], [{"book_id": "1"}, {"book_id": "1"}])


def test_a_new_collection_gets_the_record_and_keeps_cosine_distance(
    store: ChunkStore, settings: Settings
) -> None:
    claim(store, settings)
    fresh = store.client.get_collection(store.collection.name)
    assert read_record(fresh) == expected_record(settings)
    assert fresh.metadata[PREFIX + "backend"] == "onnx"
    assert fresh.metadata[PREFIX + "dimension"] == 384
    put_chunks(store)
    hits = ChunkStore(store.client, store.collection.name).search(
        np.array([1.0] + [0.0] * 383, dtype=np.float32), 2
    )
    # Cosine: the second vector is 0.6 of the way; an L2 index would score it 1 - 0.8 = 0.2.
    assert [round(h.score, 3) for h in hits] == [1.0, 0.6]


def test_the_same_settings_pass_and_another_backend_is_refused_in_one_line(
    store: ChunkStore, settings: Settings
) -> None:
    claim(store, settings)
    claim(store, settings)
    check_reader(store, settings)
    with pytest.raises(RecordMismatch) as refused:
        claim(store, replace(settings, embed_backend="onnx-int8"))
    message = str(refused.value)
    assert "\n" not in message
    assert f"collection '{store.collection.name}'" in message
    assert "onnx fp32" in message and f"onnx-int8 {default_variant('onnx-int8')}" in message
    assert "set EMBED_BACKEND=onnx" in message and "new collection" in message
    with pytest.raises(RecordMismatch):
        check_reader(store, replace(settings, embed_backend="torch"))


def test_chunk_settings_bind_writers_but_not_readers(
    store: ChunkStore, settings: Settings
) -> None:
    claim(store, settings)
    other = replace(settings, chunk_tokens=150)
    check_reader(store, other)
    with pytest.raises(RecordMismatch, match="RAGMILL_CHUNK_TOKENS=200"):
        claim(store, other)


def test_a_collection_without_a_record_is_taken_as_fp32_onnx_and_then_recorded(
    store: ChunkStore, settings: Settings
) -> None:
    put_chunks(store)
    with pytest.raises(RecordMismatch, match="no record: taken as fp32 ONNX"):
        check_reader(store, replace(settings, embed_backend="onnx-int8"))
    check_reader(store, settings)
    claim(store, settings)
    assert read_record(store.client.get_collection(store.collection.name)) is not None


def test_the_default_backend_refuses_a_collection_without_a_record_and_names_the_fix(
    store: ChunkStore,
) -> None:
    default = Settings.from_env({})
    assert expected_record(default).backend == "onnx-int8"
    put_chunks(store)
    for attempt in (claim, check_reader):
        with pytest.raises(RecordMismatch) as refused:
            attempt(store, default)
        assert "set EMBED_BACKEND=onnx " in str(refused.value)
    assert read_record(store.client.get_collection(store.collection.name)) is None


def test_another_variant_of_the_same_backend_is_refused_naming_the_variant(
    store: ChunkStore, settings: Settings
) -> None:
    # A collection made by an older default (dynamic int8) is not silently extended by the new
    # one; the line says which EMBED_VARIANT carries on with it.
    older = replace(settings, embed_backend="onnx-int8", embed_variant=DYNAMIC)
    claim(store, older)
    with pytest.raises(RecordMismatch) as refused:
        claim(store, replace(settings, embed_backend="onnx-int8", embed_variant=""))
    message = str(refused.value)
    assert "quantisation differ" in message, message
    assert f"set EMBED_BACKEND=onnx-int8 EMBED_VARIANT={DYNAMIC}" in message


def test_the_record_keeps_other_metadata(store: ChunkStore, settings: Settings) -> None:
    store.collection.modify(metadata={"owner": "library"})
    write_record(store.client.get_collection(store.collection.name), expected_record(settings))
    metadata = store.client.get_collection(store.collection.name).metadata
    assert metadata["owner"] == "library" and metadata[PREFIX + "model"] == "all-MiniLM-L6-v2"


def test_the_worker_check_refuses_another_space_and_reads_chroma_once(
    store: ChunkStore, settings: Settings
) -> None:
    claim(store, settings)
    check = WorkerCheck()
    with pytest.raises(RecordMismatch):
        check(store, replace(settings, embed_backend="onnx-int8"))
    check(store, settings)
    # Passed once: the record is not read again, so a later change goes unseen by this process.
    write_record(store.client.get_collection(store.collection.name),
                 replace(expected_record(settings), backend="torch"))
    check(store, settings)
    with pytest.raises(RecordMismatch):
        WorkerCheck()(store, settings)


def test_a_worker_records_an_empty_collection_nobody_recorded(
    store: ChunkStore, settings: Settings
) -> None:
    WorkerCheck()(store, replace(settings, embed_backend="onnx-int8"))
    record = read_record(store.client.get_collection(store.collection.name))
    assert record is not None and record.backend == "onnx-int8"


def test_eval_embeds_questions_with_the_backend_the_record_names(
    store: ChunkStore, settings: Settings
) -> None:
    claim(store, replace(settings, embed_backend="onnx-int8"))
    assert recorded_form(store, settings) == ("onnx-int8", quantisation_of("onnx-int8"))


def test_questions_follow_the_recorded_variant_not_the_configured_one(
    store: ChunkStore, settings: Settings
) -> None:
    claim(store, replace(settings, embed_backend="onnx-int8",
                         embed_variant=DYNAMIC))
    reader = replace(settings, embed_backend="onnx-int8", embed_variant="")
    assert recorded_form(store, reader) == ("onnx-int8", DYNAMIC)


def test_a_collection_without_a_record_is_read_as_fp32_onnx(
    store: ChunkStore, settings: Settings
) -> None:
    put_chunks(store)
    assert recorded_form(store, replace(settings, embed_backend="onnx-int8")) == ("onnx", "fp32")


def test_the_fingerprint_hashes_model_files_without_loading_them(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(default_model(), model)
    started = time.monotonic()
    first = model_fingerprint(str(model))
    assert time.monotonic() - started < 5
    assert first == model_fingerprint(default_model())
    (model / "onnx").mkdir()
    (model / "onnx" / "model.onnx").write_bytes(b"an export")
    (model / "README.md").write_text("changed")
    assert model_fingerprint(str(model)) == first
    config = model / "1_Pooling" / "config.json"
    config.write_text(config.read_text().replace("true", "false", 1) + " ")
    assert model_fingerprint(str(model)) != first
    assert model_fingerprint("some-org/some-model") == "name:some-org/some-model"
    assert model_dimension(default_model()) == 384


F32, BF16 = "int8-static-openvino", "int8-static-openvino-bf16"


def test_forms_that_differ_only_in_float_precision_share_a_collection(
    store: ChunkStore, settings: Settings
) -> None:
    # A machine without native bf16 records the f32 form; one with it defaults to bf16.
    first = replace(settings, embed_backend="onnx-int8", embed_variant=F32)
    second = replace(settings, embed_backend="onnx-int8", embed_variant=BF16)
    recorded = claim(store, first)
    claim(store, second)
    check_reader(store, second)
    WorkerCheck()(store, second)
    assert read_record(store.client.get_collection(store.collection.name)) == recorded
    assert same_form_family("onnx-int8", F32, BF16) and same_form_family("onnx-int8", BF16, F32)


@pytest.mark.parametrize(
    ("backend", "variant", "differing"),
    [
        ("onnx", "fp32", "backend, quantisation differ"),  # int8 weights against fp32 ones
        ("onnx-int8", DYNAMIC, "quantisation differ"),  # another int8 file
        ("torch", "", "backend, quantisation differ"),
    ],
)
def test_another_file_of_the_same_model_is_still_refused_in_one_line(
    store: ChunkStore, settings: Settings, backend: str, variant: str, differing: str
) -> None:
    claim(store, replace(settings, embed_backend="onnx-int8", embed_variant=BF16))
    for attempt in (claim, check_reader, WorkerCheck()):
        with pytest.raises(RecordMismatch) as refused:
            attempt(store, replace(settings, embed_backend=backend, embed_variant=variant))
        message = str(refused.value)
        assert "\n" not in message and differing in message, message
        assert "set EMBED_BACKEND=onnx-int8" in message


def test_another_dimension_is_refused_even_within_the_family(
    store: ChunkStore, settings: Settings
) -> None:
    first = replace(settings, embed_backend="onnx-int8", embed_variant=F32)
    write_record(
        store.client.get_collection(store.collection.name),
        replace(expected_record(first), dimension=768),
    )
    with pytest.raises(RecordMismatch, match="dimension differ"):
        check_reader(store, replace(first, embed_variant=BF16))


def test_the_precision_family_agrees_far_closer_than_fp32_and_int8_on_real_chunks() -> None:
    # The measurement behind same_form_family (docs/collections.md): the same text through both
    # precisions must agree far more closely than the int8 file agrees with fp32, which is
    # refused as another space.
    texts = real_book_chunks(books=4, per_book=25)
    forms = (("onnx", "fp32"), ("onnx-int8", F32), ("onnx-int8", BF16))
    vectors = {
        name: Embedder(default_model(), backend=backend, variant=name, threads=1).encode(texts)
        for backend, name in forms
    }
    family = np.sum(vectors[F32] * vectors[BF16], axis=1)
    quantised = np.sum(vectors["fp32"] * vectors[F32], axis=1)
    print(f"f32 vs bf16 form: mean {family.mean():.5f} min {family.min():.5f}; "
          f"fp32 vs int8: mean {quantised.mean():.5f} min {quantised.min():.5f}")
    assert family.min() > 0.998
    assert 1 - family.mean() < (1 - quantised.mean()) / 3
