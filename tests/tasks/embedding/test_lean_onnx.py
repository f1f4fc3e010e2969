"""The ONNX backends without torch: same vectors as sentence-transformers, and a lean process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tasks.embedding import Embedder
from tasks.embedding.cache import ensure_export
from tasks.settings import default_model

ROOT = Path(__file__).resolve().parents[3]


def _sentence_transformers_onnx(backend: str, variant: str | None = None) -> object:
    from sentence_transformers import SentenceTransformer

    directory, file_name = ensure_export(default_model(), backend, variant)
    return SentenceTransformer(
        str(directory), device="cpu", backend="onnx", model_kwargs={"file_name": file_name}
    )


def test_fp32_vectors_equal_sentence_transformers_onnx(
    model_cache: Path, real_chunks: list[str]
) -> None:
    ours = Embedder(default_model(), backend="onnx", batch_size=8).encode(real_chunks)
    theirs = _sentence_transformers_onnx("onnx").encode(  # type: ignore[attr-defined]
        real_chunks, normalize_embeddings=True, convert_to_numpy=True
    )
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.min() > 0.9999, cosines.min()


def test_int8_vectors_equal_sentence_transformers_onnx_text_by_text(
    model_cache: Path, real_chunks: list[str]
) -> None:
    # sentence-transformers runs dynamic int8 files only (not OpenVINO's static one); dynamic
    # int8 depends on batch-mates, so compare the same one-text batches.
    embedder = Embedder(default_model(), backend="onnx-int8", variant="int8-dynamic")
    model = _sentence_transformers_onnx("onnx-int8", "int8-dynamic")
    for text in real_chunks[::4]:
        ours = embedder.encode([text])[0]
        theirs = model.encode([text], normalize_embeddings=True)[0]  # type: ignore[attr-defined]
        assert float(ours @ theirs) > 0.9999, text[:60]


EMBED_IN_A_WORKER_PROCESS = """
import json, sys
from tasks.celery import _prepare_worker_process
_prepare_worker_process()
from tasks import resources
embedder = resources.embedder()
vector = embedder.encode(["The harpooner watched the whale breach."])[0]
print(json.dumps({
    "norm": float((vector ** 2).sum()),
    "modules": sorted(m for m in ("torch", "sentence_transformers", "transformers", "optimum",
                                  "nncf") if m in sys.modules),
    "threads": embedder.encoder.states.threads,
}))
"""


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_a_worker_process_embeds_without_importing_torch(model_cache: Path, backend: str) -> None:
    ensure_export(default_model(), backend)
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "EMBED_BACKEND": backend, "EMBED_THREADS": "1",
        "RAGMILL_MODEL_CACHE": str(model_cache),
    }
    done = subprocess.run(
        [sys.executable, "-c", EMBED_IN_A_WORKER_PROCESS],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["modules"] == []
    assert seen["threads"] == 1
    assert abs(seen["norm"] - 1.0) < 1e-5


def test_first_export_happens_outside_the_asking_process(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAGMILL_MODEL_CACHE": str(tmp_path)}
    code = (
        "import sys; from tasks.embedding import Embedder; from tasks.settings import "
        "default_model; Embedder(default_model(), backend='onnx').encode(['a']); "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"
    assert len(list(tmp_path.glob("*/onnx/model.onnx"))) == 1
