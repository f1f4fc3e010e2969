"""The ONNX files a model can be run as: the forms ragmill ships.

A variant names one file in the model's export cache and the recipe that makes it
(tasks/embedding/export.py). Its name is what a collection records as the quantisation and
optimisation its vectors were made with, so names are stable: a new recipe gets a new name.

Shipped: fp32 (onnx's default), static int8 on OpenVINO in f32 or bf16 (onnx-int8's defaults,
by CPU), and dynamic int8 for the instruction set, onnx-int8's earlier default, kept so the
collections it made can still be read and written. Other forms that were measured (fused and
optimised fp32 graphs, per-channel int8) gave nothing the shipped ones lack and are not made
(docs/performance.md, "Variants").
"""

from __future__ import annotations

import os
from collections.abc import Set
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FP32_FILE = "onnx/model.onnx"
# OpenVINO's IR: the graph in .xml, the weights in a .bin beside it (written first, so the .xml
# being there means both are).
OPENVINO_INT8_FILE = "openvino/model_int8_static.xml"
# sentence-transformers' dynamic-quantisation configs, best first; picked by the CPU's flags.
INT8_CONFIGS = ("avx512_vnni", "avx512", "avx2", "arm64")


@dataclass(frozen=True)
class Variant:
    """One ONNX file of a model: its name, backend, file in the export cache and recipe."""

    name: str
    backend: str  # "onnx" (float) or "onnx-int8" (quantised)
    file: str
    recipe: str  # what export.py runs to make the file
    description: str
    # Texts per runtime run; 0 means the Embedder's batch size. Dynamic int8 quantises a
    # run's activations with one range for the whole run, so a text's vector would depend on its
    # batch-mates (cosine down to 0.988 measured); one text per run quantises each text by its own
    # range, so its vector depends on itself alone, and measured as fast as batches of 8.
    rows_per_run: int = 0
    # What runs the file: onnxruntime for .onnx files, OpenVINO for its IR (.xml beside a .bin).
    runtime: str = "onnxruntime"
    # >0: each text runs padded to its token count rounded up to this multiple, beside only texts
    # of that same padded length. Static int8 on OpenVINO moves a vector slightly with the
    # padding it runs with (cosine 0.9998 measured), so the padding is made the text's own.
    pad_multiple: int = 0
    # OpenVINO's precision for what stays float: f32, or bf16 on CPUs that have it (faster,
    # vectors a little further from fp32).
    float_precision: str = "f32"


# OpenVINO keeps buffers for every input shape it has run, so a process grows with the largest
# batch: 8 texts a run held 419 MiB after 1600 chunks, 2 held 314 MiB, at the same speed within
# noise (53.6-58.7 chunks/s for 1, 2, 4 and 8 on one thread, docs/performance.md).
OPENVINO_ROWS_PER_RUN = 2

FP32 = Variant("fp32", "onnx", FP32_FILE, "fp32", "the exported float32 graph")


def int8_config() -> str:
    """The dynamic-quantisation config that suits this CPU (avx512_vnni on recent x86)."""
    flags = cpu_flags()
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


def all_variants() -> dict[str, Variant]:
    """Every variant ragmill ships, by name (the dynamic int8 one for this CPU's ISA)."""
    isa = int8_config()
    rows = [
        FP32,
        Variant(
            f"int8-dynamic-{isa}", "onnx-int8", int8_file(isa), "int8-dynamic",
            "dynamic int8 (sentence-transformers' quantisation config for this CPU), "
            "one text per run so activations are quantised per text; onnx-int8's earlier "
            "default, for the collections it made",
            rows_per_run=1,
        ),
        Variant(
            "int8-static-openvino", "onnx-int8", OPENVINO_INT8_FILE, "int8-static-openvino",
            "static int8 of the ONNX export by NNCF (transformer scheme, calibrated once on book "
            "text), run by OpenVINO; fixed ranges, so whole batches run at once",
            runtime="openvino", pad_multiple=16, rows_per_run=OPENVINO_ROWS_PER_RUN,
        ),
        Variant(
            "int8-static-openvino-bf16", "onnx-int8", OPENVINO_INT8_FILE, "int8-static-openvino",
            "the same static int8 file, its float parts (softmax, LayerNorm, GELU) run in bf16; "
            "the default on CPUs with AVX512_BF16 or AMX-BF16",
            runtime="openvino", pad_multiple=16, rows_per_run=OPENVINO_ROWS_PER_RUN,
            float_precision="bf16",
        ),
    ]
    return {v.name: v for v in rows}


# onnx-int8's default: static int8 on OpenVINO, the fastest variant whose recall@5 is within 0.02
# of fp32 on the bundled question set (docs/performance.md, "Retrieval quality"); with its float
# parts in bf16 where the CPU computes bf16 natively (default_variant).
DEFAULT_VARIANTS = {"onnx": "fp32", "onnx-int8": "int8-static-openvino"}
# The defaults on CPUs with native bf16 arithmetic (NATIVE_BF16_FLAGS), where they differ.
BF16_DEFAULT_VARIANTS = {"onnx-int8": "int8-static-openvino-bf16"}
# Without one of these flags OpenVINO emulates bf16 on AVX-512 (slower than f32) or ignores the
# request, so the bf16 variant is only the default where one is present.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def default_variant(backend: str, flags: Set[str] | None = None) -> str:
    """The variant `backend` runs when EMBED_VARIANT is unset, on a CPU with `flags`.

    Like dynamic int8's ISA, the choice follows the CPU: on one with native bf16, onnx-int8 runs
    its float parts in bf16 (on the docs' AMD EPYC 1.07 times f32's bare encode rate and 1.04
    times its end-to-end rate, paired; recall@5 within 0.02 of fp32). Machines of one cluster with
    and without bf16 therefore default to different variants of one file; the collection record
    takes both as one vector space (tasks/collection_record.py), so they share a collection.
    """
    if (cpu_flags() if flags is None else flags) & NATIVE_BF16_FLAGS:
        return BF16_DEFAULT_VARIANTS.get(backend) or DEFAULT_VARIANTS.get(backend, "")
    return DEFAULT_VARIANTS.get(backend, "")


def resolve(backend: str, name: str | None = None) -> Variant:
    """The variant `name` of `backend`, or the backend's default when `name` is empty."""
    variants = all_variants()
    wanted = name or default_variant(backend)
    if wanted == "int8-dynamic":
        wanted = f"int8-dynamic-{int8_config()}"
    variant = variants.get(wanted)
    if variant is None or variant.backend != backend:
        choices = ", ".join(v.name for v in variants.values() if v.backend == backend)
        raise ValueError(
            f"EMBED_VARIANT={wanted!r} is not a variant of EMBED_BACKEND={backend!r}; "
            f"choose one of {choices or 'none (this backend has no variants)'}"
        )
    return variant


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where it cannot be read); read once a
    process, since every variant lookup asks."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()
