"""The machine a bench ran on, recorded beside its figures, and the fixed-seed text sample."""

from __future__ import annotations

import os
import platform
import random
import time
from pathlib import Path
from typing import Any


def deterministic_sample(texts: list[str], n: int) -> list[str]:
    """`n` texts drawn evenly at random (fixed seed) from `texts`, in their original order."""
    if n >= len(texts):
        return list(texts)
    picked = sorted(random.Random(0).sample(range(len(texts)), n))
    return [texts[i] for i in picked]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine_info(command: str) -> dict[str, Any]:
    """CPU model, cores, load and library versions, so figures are read with their machine."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("torch", "onnxruntime", "sentence-transformers", "celery", "chromadb"):
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
