"""The on-disk cache of ONNX exports, made once per model and shared by every process and run.

Exporting all-MiniLM-L6-v2 to ONNX takes seconds and quantising it a few more; doing that in each
worker process at every start would waste both. The first process to need an export makes it under
an exclusive file lock, writes it into a temporary directory and renames it into place, so a
concurrent process either waits for the lock and then finds the finished files, or sees nothing;
never half a file.

Layout: ``$RAGMILL_MODEL_CACHE/<slug>/`` is a complete sentence-transformers model directory with
``onnx/model.onnx`` (fp32) and ``onnx/model_qint8_<isa>.onnx`` (dynamic int8), plus
``exports.log``, one line per export actually performed (tests read it to prove reuse).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

FP32_FILE = "onnx/model.onnx"
# Quantisation configs sentence-transformers knows, best first; picked by the CPU's flags.
INT8_CONFIGS = ("avx512_vnni", "avx512", "avx2", "arm64")


def cache_root() -> Path:
    """Where exports live: RAGMILL_MODEL_CACHE, else ~/.cache/ragmill/models (tasks/settings.py).

    Read when an export is looked up (once per process start), not cached, so a process that
    changes its environment first finds its own cache.
    """
    from tasks.settings import Settings

    return Settings.from_env().model_cache


def model_slug(model: str) -> str:
    """A directory name for `model`: its folder name plus a hash of where it is and its weights.

    The hash changes when the model files are replaced, so a stale export is never reused.
    """
    path = Path(model).expanduser().resolve()
    fingerprint = [str(path)]
    for name in ("model.safetensors", "pytorch_model.bin", "config.json"):
        with contextlib.suppress(OSError):
            stat = (path / name).stat()
            fingerprint.append(f"{name}:{stat.st_size}:{int(stat.st_mtime)}")
    digest = hashlib.sha256("|".join(fingerprint).encode()).hexdigest()[:12]
    return f"{path.name or 'model'}-{digest}"


def int8_config() -> str:
    """The dynamic-quantisation config that suits this CPU (avx512_vnni on recent x86)."""
    flags = _cpu_flags()
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    if "avx2" in flags:
        return "avx2"
    if os.uname().machine in ("aarch64", "arm64"):
        return "arm64"
    # Without AVX2 the int8 kernels still run, just without the fast paths.
    return "avx2"


def int8_file(config: str) -> str:
    return f"onnx/model_qint8_{config}.onnx"


def ensure_export(model: str, backend: str) -> tuple[Path, str]:
    """(model directory, ONNX file in it) for backend onnx or onnx-int8; exports if needed."""
    if not Path(model).expanduser().is_dir():
        raise ValueError(
            f"EMBED_MODEL={model!r} is not a local model directory; ONNX backends export from "
            "local model files (use EMBED_BACKEND=torch for hub names)"
        )
    root = cache_root()
    target = root / model_slug(model)
    wanted = FP32_FILE if backend == "onnx" else int8_file(int8_config())
    if (target / wanted).is_file():
        return target, wanted
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f"{target.name}.lock"):
        # Another process may have finished the export while this one waited for the lock.
        if not (target / FP32_FILE).is_file():
            _export_fp32(model, target)
        if backend == "onnx-int8" and not (target / wanted).is_file():
            _export_int8(target, int8_config())
    return target, wanted


def export_count(model: str) -> int:
    """How many exports were made for `model` in the current cache (0 when none yet)."""
    log = cache_root() / model_slug(model) / "exports.log"
    try:
        return len(log.read_text().splitlines())
    except OSError:
        return 0


def _export_fp32(model: str, target: Path) -> None:
    from sentence_transformers import SentenceTransformer

    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        # With no ONNX file in a local model directory, sentence-transformers exports through
        # Optimum; saving the result writes a complete model directory with onnx/model.onnx.
        exported = SentenceTransformer(
            model, device="cpu", backend="onnx", model_kwargs={"provider": "CPUExecutionProvider"}
        )
        exported.save_pretrained(str(scratch))
        if not (scratch / FP32_FILE).is_file():
            raise RuntimeError(f"ONNX export of {model} wrote no {FP32_FILE}")
        if target.exists():
            # A directory without its ONNX file is the remains of an interrupted older layout.
            shutil.rmtree(target)
        os.replace(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    _log_export(target, FP32_FILE, time.monotonic() - started)


def _export_int8(target: Path, config: str) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model

    started = time.monotonic()
    fp32 = SentenceTransformer(
        str(target),
        device="cpu",
        backend="onnx",
        model_kwargs={"file_name": FP32_FILE, "provider": "CPUExecutionProvider"},
    )
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        export_dynamic_quantized_onnx_model(fp32, config, str(scratch))
        made = scratch / int8_file(config)
        if not made.is_file():
            raise RuntimeError(f"int8 quantisation of {target} wrote no {int8_file(config)}")
        os.replace(made, target / int8_file(config))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _log_export(target, int8_file(config), time.monotonic() - started)


def _log_export(target: Path, file_name: str, seconds: float) -> None:
    with open(target / "exports.log", "a") as log:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        log.write(f"{stamp} {file_name} {seconds:.2f}s pid {os.getpid()}\n")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()
