"""Latency and throughput of the search service under concurrent clients.

    python -m benchmarks.search_service --chunks 10000 --clients 1,8 --requests 800

Starts a Chroma server and `ragmill serve` of its own in a temporary directory, fills a collection
with `--chunks` chunks in 100 books (random unit vectors of the model's dimension: the time of a
search depends on how many vectors the index holds, not on what they mean), warms the service,
then for each number of clients measures three kinds of request: a search, a search filtered to
one book, and `ask` without an LLM configured (its retrieval part: the same search, answered as
`ask` answers). It prints p50/p99 latency, requests per second and the CPU each request cost the
service and the Chroma server, as JSON.

    python -m benchmarks.search_service --cold --clients 8 --requests 200 [--root DIR ...]

With --cold nothing is warmed by the benchmark: for each checkout given (an older commit
exported with `git archive`, then this one), a fresh Chroma server and service start on the same
collection, and the first searches are sent the moment /health answers.

    python -m benchmarks.search_service --chroma-url URL --collection million --clients 1,8

With --chroma-url the collection is one already filled (benchmarks.million --hold keeps its stack
up): only a service starts, and the one-book searches go round books that collection holds.

The clients are threads of this process, never of the service's, each with one keep-alive
connection (the standard library's http.client, the lightest client there is, so that the
clients' own CPU takes as little as possible of the cores the service shares with them).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import requests

from pipeline.bench.cpu_account import cpu_seconds
from pipeline.bench.probe import rss_mb
from pipeline.stack.local import service_env
from pipeline.stack.processes import Service, free_port, spawn, wait_until
from pipeline.stack.service import serve_argv
from pipeline.stack.services import start_chroma
from tasks.store import ChunkStore, Metadata, chroma_client

QUESTIONS = [
    "a monster made by a scientist", "a proposal of marriage refused", "the white whale",
    "a storm at sea", "a letter from a sister", "the trial of an innocent man",
    "a rabbit with a pocket watch", "a ball at a great house", "the death of a friend",
    "a journey over the mountains", "a garden of roses", "a steam engine on the line",
]
BOOKS = 100


def fill(store: ChunkStore, chunks: int, dimension: int) -> None:
    rng = np.random.default_rng(0)
    for start in range(0, chunks, 1000):
        n = min(1000, chunks - start)
        vectors = rng.standard_normal((n, dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        numbers = range(start, start + n)
        metadatas: list[Metadata] = [
            {"book_id": str(i % BOOKS), "title": f"Book {i % BOOKS}", "author": "",
             "language": "en", "source": "bench", "position": i} for i in numbers
        ]
        store.upsert([f"c{i}" for i in numbers], vectors, [f"passage {i}" for i in numbers],
                     metadatas)


def measure(port: int, path: str, params: list[dict[str, Any]], clients: int
            ) -> dict[str, float]:
    """p50/p99 latency (ms) and requests per second of GET `path` with each of `params`."""
    local = threading.local()

    def one(p: dict[str, Any]) -> float:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        started = time.perf_counter()
        local.connection.request("GET", f"{path}?{urlencode(p, doseq=True)}")
        answer = local.connection.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{answer.status} from {path}: {body[:200]!r}")
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


def measure_with_cpu(port: int, path: str, params: list[dict[str, Any]], clients: int,
                     processes: dict[str, int]) -> dict[str, float]:
    """`measure`, plus the CPU milliseconds each request cost each of `processes` (by pid)
    and the clients."""
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    clients_before = time.process_time()
    found = measure(port, path, params, clients)
    found["clients_cpu_ms"] = round((time.process_time() - clients_before) * 1000 / len(params),
                                    1)
    for name, pid in processes.items():
        found[f"{name}_cpu_ms"] = round((cpu_seconds(pid) - before[name]) * 1000 / len(params),
                                        1)
    return found


def requests_to_measure(
    total: int, k: int, books: list[str] | None = None
) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """Each kind of request measured: its path and its `total` parameter sets; the one-book
    searches go round `books` (default: the filled collection's)."""
    books = books or [str(b) for b in range(BOOKS)]
    questions = [{"q": f"{QUESTIONS[i % len(QUESTIONS)]} {i}", "k": k} for i in range(total)]
    return {
        "search": ("/api/search", questions),
        "search_one_book": ("/api/search", [{**q, "book": books[i % len(books)]}
                                            for i, q in enumerate(questions)]),
        "ask_retrieval": ("/api/ask", questions),
    }


def bench_env(root: Path) -> dict[str, str]:
    """The services' environment; `ask` without an LLM answers with its retrieval alone."""
    env = service_env(root)
    for name in ("LLM_BASE_URL", "LLM_MODEL", "RAGMILL_SERVE_TOKEN"):
        env.pop(name, None)
    return env


def fill_bench_collection(chroma_url: str, chunks: int) -> None:
    """`chunks` chunks in collection "bench", recorded as an ingest with these settings records
    it, so the service reads it."""
    from tasks.collection_record import claim
    from tasks.embedding import Embedder
    from tasks.settings import Settings

    settings = Settings.from_env()
    dimension = Embedder(settings.model, backend=settings.embed_backend).dimension
    store = ChunkStore.connect(chroma_url, "bench")
    claim(store, settings)
    fill(store, chunks, dimension)


def run(chunks: int, clients: list[int], total: int, k: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ragmill-serve-bench-") as tmp:
        root = Path(tmp)
        env = bench_env(root)
        chroma, chroma_url = start_chroma(root / "chroma", root, env)
        serve: Service | None = None
        try:
            fill_bench_collection(chroma_url, chunks)
            port = free_port()
            env.update(CHROMA_URL=chroma_url, RAGMILL_COLLECTION="bench")
            serve = spawn("serve", serve_argv("127.0.0.1", port), env=env,
                          log_path=root / "serve.log")
            wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok,
                       service=serve, timeout=120, what="answering /health")
            kinds = requests_to_measure(total, k)
            for path, params in kinds.values():  # warm up: indexes, caches, known books
                measure(port, path, params[:BOOKS], max(clients))
            processes = {"service": serve.pid, "chroma": chroma.pid}
            results = {
                f"{n}_clients": {name: measure_with_cpu(port, path, params, n, processes)
                                 for name, (path, params) in kinds.items()}
                for n in clients
            }
            return {"chunks": chunks, "k": k, "load_average": os.getloadavg()[0], **results}
        finally:
            if serve is not None:
                serve.stop(grace=10)
            chroma.stop(grace=10)


def existing(chroma_url: str, collection: str, clients: list[int], total: int, k: int
             ) -> dict[str, Any]:
    """The same measurements against a collection already filled (say by benchmarks.million,
    held with --hold): a service of its own on it, warmed as `run` warms it; the one-book
    searches go round books the collection holds."""
    store = ChunkStore.open(chroma_client(chroma_url), collection)
    books = sorted({str(m["book_id"]) for m in store.metadatas(limit=5000)})
    with tempfile.TemporaryDirectory(prefix="ragmill-serve-bench-") as tmp:
        env = {**bench_env(Path(tmp)), "CHROMA_URL": chroma_url,
               "RAGMILL_COLLECTION": collection}
        port = free_port()
        serve = spawn("serve", serve_argv("127.0.0.1", port), env=env,
                      log_path=Path(tmp) / "serve.log")
        try:
            wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok,
                       service=serve, timeout=300, what="answering /health")
            kinds = requests_to_measure(total, k, books)
            for path, params in kinds.values():
                measure(port, path, params[:len(books)], max(clients))
            processes = {"service": serve.pid}
            results = {
                f"{n}_clients": {name: measure_with_cpu(port, path, params, n, processes)
                                 for name, (path, params) in kinds.items()}
                for n in clients
            }
            return {"chunks": store.count(), "k": k, "books_searched": len(books),
                    "load_average": os.getloadavg()[0], **results}
        finally:
            serve.stop(grace=10)


Started = tuple[Service, Service, int, float]


def start_service(root: Path, env: dict[str, str], chroma_dir: Path) -> Started:
    """A fresh Chroma server on `chroma_dir` and a service run from the checkout at `root`;
    returns both, the service's port and the seconds until /health answered."""
    chroma, chroma_url = start_chroma(chroma_dir, chroma_dir.parent, env)
    port = free_port()
    # PYTHONPATH comes before the installed ragmill, so the service runs `root`'s code.
    served = {**env, "CHROMA_URL": chroma_url, "RAGMILL_COLLECTION": "bench",
              "PYTHONPATH": os.pathsep.join([str(root), env.get("PYTHONPATH", "")])}
    started = time.perf_counter()
    serve = spawn("serve", serve_argv("127.0.0.1", port), env=served,
                  log_path=chroma_dir.parent / f"serve-{port}.log")
    try:
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok,
                   service=serve, timeout=120, what="answering /health")
    except BaseException:
        serve.stop(grace=10)
        chroma.stop(grace=10)
        raise
    return chroma, serve, port, time.perf_counter() - started


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def cold(chunks: int, clients: int, total: int, k: int, roots: list[Path]) -> dict[str, Any]:
    """For each checkout in `roots`: a freshly started Chroma server and service, and the
    latency of the first `total` searches sent by `clients` clients the moment /health answered
    (then the same searches again, warm). The files stay in the page cache between runs."""
    with tempfile.TemporaryDirectory(prefix="ragmill-serve-cold-") as tmp:
        root_dir = Path(tmp)
        env = bench_env(root_dir)
        chroma_dir = root_dir / "chroma"
        chroma, chroma_url = start_chroma(chroma_dir, root_dir, env)
        try:
            fill_bench_collection(chroma_url, chunks)
        finally:
            chroma.stop(grace=10)
        path, params = requests_to_measure(total, k)["search"]
        found: dict[str, Any] = {"chunks": chunks, "clients": clients, "k": k}
        for root in roots:
            chroma, serve, port, ready = start_service(root, env, chroma_dir)
            try:
                found[str(root)] = {
                    "health_s": round(ready, 1),
                    # One request a client, all at once: what the very first users meet.
                    "first_wave": measure(port, path, params[-clients:], clients),
                    "first": measure(port, path, params, clients),
                    "again": measure(port, path, params, clients),
                    "chroma_rss_mb": round(rss_mb(chroma.pid), 1),
                    "chroma_disk_mb": round(disk_mb(chroma_dir), 1),
                }
            finally:
                serve.stop(grace=10)
                chroma.stop(grace=10)
        found["load_average"] = os.getloadavg()[0]
        return found


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search_service")
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--clients", default="1,8",
                        help="Concurrent clients, or several counts separated by commas.")
    parser.add_argument("--requests", type=int, default=800, help="Requests per measurement.")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--cold", action="store_true",
                        help="Time the first requests after /health answered, on fresh servers.")
    parser.add_argument("--root", type=Path, action="append",
                        help="With --cold: a checkout whose service to start (repeatable; "
                             "default this one), e.g. an export of an older commit.")
    parser.add_argument("--chroma-url",
                        help="Measure a collection already filled on this Chroma server.")
    parser.add_argument("--collection", default="million", help="With --chroma-url.")
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    if args.chroma_url:
        print(json.dumps(existing(args.chroma_url, args.collection, clients, args.requests,
                                  args.k), indent=2))
        return
    if args.cold:
        roots = args.root or [Path(__file__).resolve().parents[1]]
        print(json.dumps(cold(args.chunks, max(clients), args.requests, args.k, roots),
                         indent=2))
        return
    print(json.dumps(run(args.chunks, clients, args.requests, args.k), indent=2))


if __name__ == "__main__":
    main()
