"""One bare-encode measurement in a fresh process: `python -m pipeline.bench.probe SPEC.json`.

A fresh process per measurement, because thread pools are fixed when torch and onnxruntime first
start, and so that its peak resident memory is its own. Prints one JSON object on its last line.

Modes: "ragmill" (ragmill's Embedder with a backend, threads and batch size), "defaults"
(sentence-transformers as a user would call it: torch, default threads and batch size), "pool"
(sentence-transformers' multi-process pool, one process per core) and "sweep" (ragmill's Embedder
at several batch sizes, and batches sorted by characters as sentence-transformers sorts them).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident memory of a process, in MiB (VmHWM), 0 when it cannot be read."""
    return _status_kb(pid, "VmHWM") / 1024


def rss_mb(pid: int | str = "self") -> float:
    """Current resident memory of a process, in MiB (VmRSS), 0 when it cannot be read."""
    return _status_kb(pid, "VmRSS") / 1024


def _status_kb(pid: int | str, key: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def _timed(encode: Any, texts: list[str], barrier: str | None = None) -> tuple[np.ndarray, float]:
    # A short warm-up first: the first batches pay for lazy allocations and kernel choices.
    encode(texts[: min(len(texts), 16)])
    if barrier:
        _wait_for_go(Path(barrier))
    started = time.perf_counter()
    vectors = np.asarray(encode(texts), dtype=np.float32)
    return vectors, time.perf_counter() - started


def _wait_for_go(barrier: Path) -> None:
    """Say this process is ready, then wait until every sibling is: all start encoding at once."""
    (barrier / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + 600
    while not (barrier / "go").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{barrier}: no go signal within 600 s")
        time.sleep(0.01)


def run(spec: dict[str, Any]) -> dict[str, Any]:
    texts: list[str] = json.loads(Path(spec["texts"]).read_text())
    queries: list[str] = spec.get("queries", [])
    mode = spec["mode"]
    model = spec["model"]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result: dict[str, Any] = {"mode": mode, "chunks": len(texts)}
    started = time.perf_counter()
    if mode in ("ragmill", "sweep"):
        from tasks.embedding import Embedder, limit_compute_threads

        threads = int(spec["threads"])
        limit_compute_threads(threads)
        embedder = Embedder(
            model,
            backend=spec["backend"],
            variant=spec.get("variant"),
            batch_size=int(spec["batch_size"]),
            threads=threads,
        )
        result["load_seconds"] = time.perf_counter() - started
        if mode == "sweep":
            result["sweep"] = _sweep(embedder, texts, [int(b) for b in spec["batch_sizes"]])
        else:
            # Counted before the clock starts, as the chunker counts them for the pipeline, so the
            # limit is encoding alone.
            lengths = embedder.token_lengths(texts)
            vectors, seconds = _timed(
                lambda t: embedder.encode(t, lengths=lengths), texts, spec.get("barrier")
            )
            query_vectors = embedder.encode(queries) if queries else None
            result.update(_rates(seconds, len(texts)), threads=threads, variant=embedder.variant)
            _save(spec, vectors, query_vectors)
    elif mode in ("defaults", "pool"):
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(model, device="cpu")
        result["load_seconds"] = time.perf_counter() - started
        if mode == "defaults":
            _, seconds = _timed(lambda t: st.encode(t, show_progress_bar=False), texts)
        else:
            processes = int(spec["processes"])
            pool = st.start_multi_process_pool(["cpu"] * processes)
            try:
                _, seconds = _timed(lambda t: st.encode(t, pool=pool), texts)
            finally:
                st.stop_multi_process_pool(pool)
            result["processes"] = processes
        result.update(_rates(seconds, len(texts)))
    else:
        raise ValueError(f"unknown probe mode {mode!r}")
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def _rates(seconds: float, chunks: int) -> dict[str, float]:
    return {"seconds": seconds, "chunks_per_second": chunks / seconds if seconds else 0.0}


def _sweep(embedder: Any, texts: list[str], sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        embedder.batch_size = size
        _, seconds = _timed(embedder.encode, texts)
        rows.append({"batch_size": size, "order": "tokens", **_rates(seconds, len(texts))})
    # The same model in batches of 32 sorted by characters, as sentence-transformers sorts.
    embedder.batch_size = 32

    def by_characters(t: list[str]) -> Any:
        return embedder.encode(t, lengths=[len(text) for text in t])

    _, seconds = _timed(by_characters, texts)
    rows.append({"batch_size": 32, "order": "characters", **_rates(seconds, len(texts))})
    return rows


def _save(spec: dict[str, Any], vectors: np.ndarray, queries: np.ndarray | None) -> None:
    if spec.get("vectors"):
        np.save(spec["vectors"], vectors)
    if spec.get("query_vectors") and queries is not None:
        np.save(spec["query_vectors"], queries)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m pipeline.bench.probe SPEC.json")
    result = run(json.loads(Path(sys.argv[1]).read_text()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
