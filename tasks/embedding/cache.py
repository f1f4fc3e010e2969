"""The on-disk cache of ONNX exports, made once per model and shared by every process and run.

Exporting all-MiniLM-L6-v2 to ONNX takes seconds and quantising it a few more; doing that in each
worker process at every start would waste both. The first process to need an export makes it under
an exclusive file lock, writes it into a temporary directory and renames it into place, so a
concurrent process either waits for the lock and then finds the finished files, or sees nothing;
never half a file.

Layout: ``$RAGMILL_MODEL_CACHE/<slug>/`` is a complete sentence-transformers model directory with
``onnx/model.onnx`` (fp32) and the other variants' files beside it (tasks/embedding/variants.py),
plus ``exports.log``, one line per export actually performed (tests read it to prove reuse). The
export itself runs in a child process (tasks/embedding/export.py), so the torch and
sentence-transformers it imports never enter the process that asked for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tasks.embedding.variants import FP32_FILE, Variant, resolve

__all__ = [
    "FP32_FILE", "cache_root", "ensure_export", "export_count", "model_slug",
]

# The export runs in its own process so that its imports never enter the caller.
EXPORT_TIMEOUT_SECONDS = 900


def cache_root() -> Path:
    """Where exports live: RAGMILL_MODEL_CACHE, else ~/.cache/ragmill/models (tasks/settings.py).

    Read when an export is looked up (once per process start), not cached, so a process that
    changes its environment first finds its own cache.
    """
    from tasks.settings import Settings

    return Settings.from_env().model_cache


def model_slug(model: str) -> str:
    """A directory name for `model`: its folder name plus a hash of where it is and of the
    fingerprint a collection records for it (tasks/collection_record.py), so the model is hashed
    one way and a replaced model never reuses a stale export."""
    from tasks.collection_record import model_fingerprint

    path = Path(model).expanduser().resolve()
    digest = hashlib.sha256(f"{path}|{model_fingerprint(model)}".encode()).hexdigest()[:12]
    return f"{path.name or 'model'}-{digest}"


def ensure_export(model: str, backend: str, variant: str | None = None) -> tuple[Path, str]:
    """(model directory, ONNX file in it) for `variant` of an ONNX backend; exports if needed.

    `variant` defaults to the backend's own (tasks/embedding/variants.py).
    """
    if not Path(model).expanduser().is_dir():
        raise ValueError(
            f"EMBED_MODEL={model!r} is not a local model directory; ONNX backends export from "
            "local model files (use EMBED_BACKEND=torch for hub names)"
        )
    wanted = resolve(backend, variant)
    root = cache_root()
    target = root / model_slug(model)
    if (target / wanted.file).is_file():
        return target, wanted.file
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f"{target.name}.lock"):
        # Another process may have finished the export while this one waited for the lock.
        fp32 = resolve("onnx", "fp32")
        for step in (fp32, wanted):
            if not (target / step.file).is_file():
                _run_export(model, target, step)
    return target, wanted.file


def _run_export(model: str, target: Path, variant: Variant) -> None:
    import tasks

    package_root = str(Path(tasks.__file__).resolve().parents[1])
    paths = [package_root, *filter(None, [os.environ.get("PYTHONPATH")])]
    done = subprocess.run(
        [sys.executable, "-m", "tasks.embedding.export", model, str(target), variant.name],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
        capture_output=True,
        text=True,
        timeout=EXPORT_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        raise RuntimeError(f"exporting {model} as {variant.name} failed: {lines[-1]}")


def export_count(model: str) -> int:
    """How many exports were made for `model` in the current cache (0 when none yet)."""
    log = cache_root() / model_slug(model) / "exports.log"
    try:
        return len(log.read_text().splitlines())
    except OSError:
        return 0


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
