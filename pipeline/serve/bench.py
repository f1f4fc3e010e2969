"""Latency and throughput of the search service under concurrent clients.

    python -m pipeline.serve.bench --chunks 10000 --clients 8 --requests 800

Starts a Chroma server and `ragmill serve` of its own in a temporary directory, fills a collection
with `--chunks` chunks in 100 books (random unit vectors of the model's dimension: the time of a
search depends on how many vectors the index holds, not on what they mean), warms the service,
then has `--clients` threads send `--requests` requests between them to each endpoint measured,
and prints p50/p99 latency and requests per second as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import requests

from pipeline.processes import Service, free_port, spawn, wait_until
from pipeline.serve.process import serve_argv
from pipeline.services import start_chroma
from pipeline.stack import service_env
from tasks.store import ChunkStore, Metadata

QUESTIONS = [
    "a monster made by a scientist", "a proposal of marriage refused", "the white whale",
    "a storm at sea", "a letter from a sister", "the trial of an innocent man",
    "a rabbit with a pocket watch", "a ball at a great house", "the death of a friend",
    "a journey over the mountains", "a garden of roses", "a steam engine on the line",
]


def fill(store: ChunkStore, chunks: int, dimension: int) -> None:
    rng = np.random.default_rng(0)
    for start in range(0, chunks, 1000):
        n = min(1000, chunks - start)
        vectors = rng.standard_normal((n, dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        numbers = range(start, start + n)
        metadatas: list[Metadata] = [
            {"book_id": str(i % 100), "title": f"Book {i % 100}", "author": "",
             "language": "en", "source": "bench", "position": i} for i in numbers
        ]
        store.upsert([f"c{i}" for i in numbers], vectors, [f"passage {i}" for i in numbers],
                     metadatas)


def measure(url: str, params: list[dict[str, Any]], clients: int) -> dict[str, float]:
    """p50/p99 latency (ms) and requests per second of GET `url` with each of `params`."""
    session_per_thread: dict[int, requests.Session] = {}

    def one(p: dict[str, Any]) -> float:
        session = session_per_thread.setdefault(threading.get_ident(), requests.Session())
        started = time.perf_counter()
        answer = session.get(url, params=p, timeout=60)
        if not answer.ok:
            raise RuntimeError(f"{answer.status_code} from {url}: {answer.text}")
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = sorted(pool.map(one, params))
    seconds = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
        "per_second": round(len(latencies) / seconds, 1),
    }


def run(chunks: int, clients: int, total: int, k: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ragmill-serve-bench-") as tmp:
        root = Path(tmp)
        env = service_env(root)
        chroma, chroma_url = start_chroma(root / "chroma", root, env)
        serve: Service | None = None
        try:
            from tasks.embedding import Embedder
            from tasks.settings import Settings

            settings = Settings.from_env()
            dimension = Embedder(settings.model, backend=settings.embed_backend).dimension
            fill(ChunkStore.connect(chroma_url, "bench"), chunks, dimension)
            port = free_port()
            env.update(CHROMA_URL=chroma_url, RAGMILL_COLLECTION="bench")
            serve = spawn("serve", serve_argv("127.0.0.1", port), env=env,
                          log_path=root / "serve.log")
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda: requests.get(f"{base}/health", timeout=1).ok, service=serve,
                       timeout=120, what="answering /health")
            questions = [{"q": f"{QUESTIONS[i % len(QUESTIONS)]} {i}", "k": k}
                         for i in range(total)]
            measure(f"{base}/api/search", questions[:50], clients)  # warm up
            results = {
                "search": measure(f"{base}/api/search", questions, clients),
                "search_one_book": measure(
                    f"{base}/api/search", [{**q, "book": str(i % 100)}
                                           for i, q in enumerate(questions)], clients),
            }
            return {"chunks": chunks, "clients": clients, "k": k, **results}
        finally:
            if serve is not None:
                serve.stop(grace=10)
            chroma.stop(grace=10)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.serve.bench")
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(run(args.chunks, args.clients, args.requests, args.k), indent=2))


if __name__ == "__main__":
    main()
