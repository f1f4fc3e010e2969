"""Embedding backends: same vectors as torch, measured int8 cost, one export per cache, threads.

Every test here loads the real bundled all-MiniLM-L6-v2 and exports it to ONNX into a fresh
cache of this module's own, so the export is exercised on every run (about 10 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pipeline.bench.quality import QUERIES, compare
from tasks.embedding import Embedder
from tasks.embedding.cache import FP32_FILE, export_count, model_slug
from tasks.embedding.variants import cpu_flags, default_variant, resolve
from tasks.settings import Settings, default_model
from tests.support.chunks import real_book_chunks
from tests.support.models import model_cache_at

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """This module's own, so the export it counts is its own."""
    with model_cache_at(tmp_path_factory.mktemp("model-cache")) as cache:
        yield cache


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Real chunks from three real books, plus a few short texts so batch lengths differ."""
    chunks = real_book_chunks(books=3, per_book=20)
    return [*chunks, "A whale.", "Roses bloom in June in the walled garden.", "Steam trains."]


def _run_python(code: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


ENCODE_ONE = """
import json
from tasks.embedding import Embedder
from tasks.settings import default_model
e = Embedder(default_model(), backend="onnx")
print(json.dumps(e.encode(["The harpooner watched the whale breach."])[0].tolist()))
"""


@pytest.fixture(scope="module")
def exported(model_cache: Path) -> list[np.ndarray]:
    """Two processes start at once on an empty cache; each needs the ONNX export."""
    procs = [_run_python(ENCODE_ONE, {"RAGMILL_MODEL_CACHE": str(model_cache)}) for _ in range(2)]
    vectors = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-2000:]
        vectors.append(np.asarray(json.loads(out.strip().splitlines()[-1])))
    return vectors


@pytest.fixture(scope="module")
def torch_vectors(texts: list[str]) -> np.ndarray:
    return Embedder(default_model(), backend="torch").encode(texts)


def test_concurrent_processes_export_once(model_cache: Path, exported: list[np.ndarray]) -> None:
    model = default_model()
    assert export_count(model) == 1
    assert (model_cache / model_slug(model) / FP32_FILE).is_file()
    # No half-written scratch directories are left beside the cache entry.
    assert [p.name for p in model_cache.iterdir() if p.is_dir()] == [model_slug(model)]
    np.testing.assert_allclose(exported[0], exported[1], atol=1e-6)


def test_second_load_reuses_the_export(model_cache: Path, exported: list[np.ndarray]) -> None:
    model = default_model()
    onnx_file = model_cache / model_slug(model) / FP32_FILE
    mtime = onnx_file.stat().st_mtime_ns
    Embedder(model, backend="onnx")
    assert export_count(model) == 1
    assert onnx_file.stat().st_mtime_ns == mtime


def test_onnx_matches_torch(
    exported: list[np.ndarray], texts: list[str], torch_vectors: np.ndarray
) -> None:
    onnx = Embedder(default_model(), backend="onnx").encode(texts)
    cosines = np.sum(onnx * torch_vectors, axis=1)
    assert cosines.min() >= 0.999, cosines.min()


def test_int8_quality_is_measured_and_above_floor(
    model_cache: Path, exported: list[np.ndarray], texts: list[str], torch_vectors: np.ndarray
) -> None:
    model = default_model()
    int8 = Embedder(model, backend="onnx-int8")
    assert export_count(model) == 2
    assert (model_cache / model_slug(model) / resolve("onnx-int8").file).is_file()
    torch_embedder = Embedder(model, backend="torch")
    quality = compare(
        "onnx-int8",
        int8.encode(texts),
        int8.encode(list(QUERIES)),
        torch_vectors,
        torch_embedder.encode(list(QUERIES)),
    )
    # int8 moves vectors a little (cosine about 0.997 on real chunks for the default, 0.99 for
    # dynamic int8) and keeps most of torch's top-5; these floors catch a broken quantisation,
    # not the normal cost.
    assert quality.cosine_mean >= 0.97, quality
    assert quality.cosine_min >= 0.93, quality
    assert quality.recall_at_k >= 0.7, quality
    Embedder(model, backend="onnx-int8")
    assert export_count(model) == 2


def test_vectors_come_back_in_input_order(exported: list[np.ndarray], texts: list[str]) -> None:
    embedder = Embedder(default_model(), backend="onnx", batch_size=8)
    texts = texts[:20] + texts[-3:]
    together = embedder.encode(texts)
    reversed_rows = embedder.encode(texts[::-1])[::-1]
    alone = np.vstack([embedder.encode([t]) for t in texts[:5] + texts[-3:]])
    np.testing.assert_allclose(together, reversed_rows, atol=1e-5)
    np.testing.assert_allclose(together[:5], alone[:5], atol=1e-5)
    np.testing.assert_allclose(together[-3:], alone[5:], atol=1e-5)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert embedder.encode([]).shape == (0, embedder.dimension)
    # Token counts handed in (the chunker's) only save a tokenization: the vectors are the same,
    # in input order, whatever the counts say.
    counted = embedder.encode(texts, lengths=embedder.token_lengths(texts))
    misleading = embedder.encode(texts, lengths=list(range(len(texts))))
    np.testing.assert_allclose(counted, together, atol=1e-5)
    np.testing.assert_allclose(misleading, together, atol=1e-5)


THREADS = """
import json, sys
from tasks.celery import _prepare_worker_process
_prepare_worker_process()
from tasks import resources
e = resources.embedder()
print(json.dumps({
    "torch_imported": "torch" in sys.modules,
    "onnx": e.encoder.states.threads,
    "backend": e.backend,
}))
"""


@pytest.mark.parametrize("threads", ["1", "2"])
def test_worker_process_init_limits_threads_before_the_model_loads(
    model_cache: Path, exported: list[np.ndarray], threads: str
) -> None:
    env = {
        "EMBED_THREADS": threads,
        "EMBED_BACKEND": "onnx",
        "RAGMILL_MODEL_CACHE": str(model_cache),
    }
    proc = _run_python(THREADS, env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen == {"torch_imported": False, "onnx": int(threads), "backend": "onnx"}


def test_default_backend_is_onnx_int8() -> None:
    assert Settings.from_env({}).embed_backend == "onnx-int8"
    assert Settings.from_env({"EMBED_BACKEND": "onnx"}).embed_backend == "onnx"


def test_int8_runs_its_float_parts_in_bf16_only_where_the_cpu_has_bf16() -> None:
    f32, bf16 = "int8-static-openvino", "int8-static-openvino-bf16"
    assert default_variant("onnx-int8", {"avx2", "avx512f", "avx512_vnni"}) == f32
    assert default_variant("onnx-int8", {"avx512_vnni", "avx512_bf16"}) == bf16
    assert default_variant("onnx-int8", {"amx_int8", "amx_bf16"}) == bf16
    assert default_variant("onnx", {"avx512_bf16"}) == "fp32"
    # Unset EMBED_VARIANT resolves by this machine's own flags.
    expected = bf16 if cpu_flags() & {"avx512_bf16", "amx_bf16"} else f32
    assert resolve("onnx-int8").name == expected
    assert resolve("onnx-int8").float_precision == ("bf16" if expected.endswith("bf16") else "f32")


def test_unknown_backend_fails_with_its_name() -> None:
    with pytest.raises(ValueError, match="EMBED_BACKEND='tf'"):
        Embedder(default_model(), backend="tf")


def test_onnx_needs_a_local_model_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a local model directory"):
        Embedder(str(tmp_path / "missing"), backend="onnx")
