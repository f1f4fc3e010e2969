"""Makes one ONNX variant of a model: `python -m tasks.embedding.export MODEL TARGET VARIANT`.

Run as its own process by tasks/embedding/cache.py, so the export's imports (torch,
sentence-transformers, Optimum: about 0.4 GiB) never enter the worker process that asked for it.
Each recipe writes into a scratch path and renames the finished file into place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tasks.embedding.variants import (
    FP32_FILE,
    OPENVINO_INT8_FILE,
    Variant,
    all_variants,
    int8_config,
)

CALIBRATION_TEXT = Path(__file__).with_name("calibration.txt")


def export(model: str, target: Path, variant: Variant) -> None:
    """Write `variant`'s file into the cache directory `target` (made from `model` if new)."""
    started = time.monotonic()
    if variant.recipe == "fp32":
        _export_fp32(model, target)
    else:
        with _scratch_file(target, variant.file) as out:
            RECIPES[variant.recipe](target, out)
    with open(target / "exports.log", "a") as log:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        log.write(f"{stamp} {variant.file} {time.monotonic() - started:.2f}s pid {os.getpid()}\n")


def _export_fp32(model: str, target: Path) -> None:
    from sentence_transformers import SentenceTransformer

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


def _int8_dynamic(target: Path, out: Path) -> None:
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model

    config = int8_config()
    scratch = out.parent / f"{out.name}.dir"
    export_dynamic_quantized_onnx_model(_onnx_model(target), config, str(scratch))
    os.replace(scratch / "onnx" / f"model_qint8_{config}.onnx", out)
    shutil.rmtree(scratch, ignore_errors=True)


def _int8_static_openvino(target: Path, out: Path) -> None:
    import nncf
    import openvino as ov

    model = ov.Core().read_model(str(target / FP32_FILE))
    names = {port.get_any_name() for port in model.inputs}
    feeds = [
        {name: value for name, value in feed.items() if name in names}
        for feed in _calibration_feeds(target)
    ]
    quantised = nncf.quantize(
        model,
        nncf.Dataset(feeds),
        # The transformer scheme keeps softmax, LayerNorm and the residual adds in float and
        # smooths activation outliers into the weights (SmoothQuant) before quantising them.
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(feeds),
    )
    scratch = out.parent / f"{out.name}.dir"
    scratch.mkdir()
    # OpenVINO would store float weights (embeddings, LayerNorm) as fp16 by default; keep them
    # float32 so only the quantised products differ from fp32.
    ov.save_model(quantised, str(scratch / "model.xml"), compress_to_fp16=False)
    os.replace(scratch / "model.bin", target / Path(OPENVINO_INT8_FILE).with_suffix(".bin"))
    os.replace(scratch / "model.xml", out)


def _calibration_feeds(target: Path) -> list[dict[str, Any]]:
    """The calibration passages as model inputs, one passage each (no padding to skew ranges)."""
    from tasks.embedding.layout import ModelLayout
    from tasks.embedding.onnx_encoder import batch_tokenizer

    tokenizer = batch_tokenizer(target / "tokenizer.json", ModelLayout.read(target).max_tokens)
    return [_feed(tokenizer.encode(p)) for p in calibration_passages()]


def _feed(encoding: Any) -> dict[str, Any]:
    import numpy as np

    return {
        "input_ids": np.array([encoding.ids], dtype=np.int64),
        "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
        "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
    }


def calibration_passages() -> list[str]:
    """The book passages static int8 calibrates on (tasks/embedding/calibration.txt)."""
    text = CALIBRATION_TEXT.read_text(encoding="utf-8")
    return [p.strip() for p in text.split("\n\n") if p.strip()]


def _onnx_model(target: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(
        str(target), device="cpu", backend="onnx",
        model_kwargs={"file_name": FP32_FILE, "provider": "CPUExecutionProvider"},
    )


@contextlib.contextmanager
def _scratch_file(target: Path, file: str) -> Iterator[Path]:
    """A scratch path beside `target/file`, renamed onto it when the block succeeds."""
    final = target / file
    final.parent.mkdir(parents=True, exist_ok=True)
    scratch = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    try:
        yield scratch
        if not scratch.is_file():
            raise RuntimeError(f"making {final} wrote nothing")
        os.replace(scratch, final)
    finally:
        for leftover in scratch.parent.glob(f"{scratch.name}*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


RECIPES: dict[str, Callable[[Path, Path], None]] = {
    "int8-dynamic": _int8_dynamic,
    "int8-static-openvino": _int8_static_openvino,
}


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit("usage: python -m tasks.embedding.export MODEL TARGET VARIANT")
    model, target, name = sys.argv[1:]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # NNCF reports usage to OpenVINO's telemetry unless a consent file in the user's home
    # declines; NNCF_CI is its switch for not sending, and an export has nothing to report.
    os.environ.setdefault("NNCF_CI", "1")
    export(model, Path(target), all_variants()[name])


if __name__ == "__main__":
    main()
