"""Bare-encode measurements, each in a fresh process (probe.py), one at a time or one per core."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


class Probes:
    """Starts `python -m pipeline.bench.probe` processes with their specs under `work`."""

    def __init__(self, work: Path, model: str) -> None:
        self.work = work
        self.model = model

    def run(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """One probe, to its end."""
        return finish(name, self.start(name, spec))

    def start(self, name: str, spec: dict[str, Any]) -> subprocess.Popen[str]:
        spec_path = self.work / f"{name}.json"
        spec_path.write_text(json.dumps({"model": self.model, **spec}))
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline.bench.probe", str(spec_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"},
        )

    def parallel(self, tag: str, sample: list[str], n: int, spec: dict[str, Any]) -> dict[str, Any]:
        """Bare encode in `n` single-threaded processes, all starting at once.

        Each process takes every n-th chunk, so all get the same mix of lengths; the rate is
        all chunks over the slowest process's time.
        """
        barrier = self.work / f"barrier-{tag}"
        barrier.mkdir()
        procs = []
        for rank in range(n):
            part = self.work / f"sample-{tag}-{rank}.json"
            part.write_text(json.dumps(sample[rank::n]))
            procs.append(self.start(f"limit-{tag}-p{rank}",
                                    {**spec, "texts": str(part), "barrier": str(barrier)}))
        deadline = time.monotonic() + 600
        while len(list(barrier.glob("ready-*"))) < n:
            if any(p.poll() not in (None, 0) for p in procs) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        (barrier / "go").touch()
        results = [finish(f"limit-{tag}-p{rank}", p) for rank, p in enumerate(procs)]
        seconds = max(r["seconds"] for r in results)
        chunks = sum(r["chunks"] for r in results)
        return {
            "chunks": chunks,
            "seconds": seconds,
            "chunks_per_second": chunks / seconds,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "load_seconds": max(r["load_seconds"] for r in results),
            "variant": results[0]["variant"],
        }


def finish(name: str, proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"bench probe {name} failed:\n{err.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result
