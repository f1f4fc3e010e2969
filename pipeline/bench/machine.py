"""The machine a bench ran on, recorded beside its figures, and the fixed-seed text sample."""

from __future__ import annotations

import os
import platform
import random
import time
from pathlib import Path
from typing import Any

from tasks.embedding.variants import cpu_flags


def deterministic_sample(texts: list[str], n: int) -> list[str]:
    """`n` texts drawn evenly at random (fixed seed) from `texts`, in their original order."""
    if n >= len(texts):
        return list(texts)
    picked = sorted(random.Random(0).sample(range(len(texts)), n))
    return [texts[i] for i in picked]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# The instruction sets the int8 and bf16 kernels choose between.
KERNEL_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16")


def cpu_description() -> str:
    """'AMD EPYC (family 25, model 17; avx2 avx512f ...)': the name alone hides the generation.

    Two virtual machines both called "AMD EPYC" can differ twofold in float32 throughput (full or
    half-width AVX-512 units), and the runtimes use those units differently, so ratios between
    backends move with it."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if not key.strip():
                break  # the first processor's block is enough
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or "unknown"
    flags = cpu_flags()
    kernels = " ".join(f for f in KERNEL_FLAGS if f in flags)
    name = fields.get("model name") or platform.processor() or "unknown"
    if "cpu family" not in fields:
        return name
    return f"{name} (family {fields['cpu family']}, model {fields.get('model')}; {kernels})"


def machine_info(command: str) -> dict[str, Any]:
    """CPU model, cores, load and library versions, so figures are read with their machine."""
    cpu = cpu_description()
    versions = {}
    for package in (
        "torch", "onnxruntime", "openvino", "sentence-transformers", "celery", "chromadb"
    ):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = "?"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_start": load_average(),
        "python": platform.python_version(),
        "versions": versions,
        "command": command,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
