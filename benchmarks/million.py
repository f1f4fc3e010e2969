"""A million chunks in one collection, through the pipeline: write rate, Chroma's size, search.

    nice -n 19 python -m benchmarks.million [FOLDER] --chunks 1000000 --json out.json

Real Gutenberg books, cut as benchmarks/ceiling.py cuts them (about --base-chunks chunks), are
copied until the run holds --chunks chunks; each copy's header carries another eBook number, so
its chunks get ids of their own while their texts stay real. The stack is ceiling's: redis-server,
a Chroma server, an io worker and stand-in embed processes serving the chunks' real vectors,
computed once with the configured model. Every copy of a text would get the same vector, and an
index of exact duplicates behaves like no real collection, so the stand-in adds to each vector a
random offset of norm --jitter (0.1: the copies stay near-duplicates, cosine about 0.995). The
embed task reuses a stored vector for a text it has stored before (tasks/reuse.py), so in
practice only the first copy of each text reaches the stand-in and later copies repeat its
vector exactly; docs/scaling.md reports the run with that caveat.

The run goes in two phases: the first --first chunks, then the rest. After each, with no writes
going, it times --searches searches (k=5, real questions through the real model) with and without
a filter on one book. Every --step chunks stored it notes the write rate since the last step and
Chroma's memory and disk. Whatever it reached is printed even if stopped with Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.ceiling import DEFAULT_FOLDER
from benchmarks.ceiling_parts import Stack, chunk_texts, cut_books, running_stack, vector_table
from benchmarks.search_service import QUESTIONS, disk_mb
from benchmarks.standin_embedder import JITTER_ENV
from corpus.sources import Source
from pipeline.bench.probe import rss_mb
from pipeline.ingest.submission import Plan, Submission
from pipeline.stack.broker import client_app, connect
from tasks import resources
from tasks.ledger import Snapshot
from tasks.store import ChunkStore, Metadata

COLLECTION = "million"
_EBOOK_NUMBER = re.compile(rb"(\[[ \t]*e-?(?:book|text)[ \t]*#[ \t]*)(\d+)", re.IGNORECASE)


def copy_books(books: list[Path], copies: int, out: Path) -> list[list[Path]]:
    """`copies` copies of `books`, each with its own eBook numbers (9, the copy, the number)."""
    made = []
    for k in range(copies):
        folder = out / f"c{k:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        batch = []
        replacement = rb"\g<1>" + f"9{k:03d}".encode() + rb"\g<2>"
        for path in books:
            data = _EBOOK_NUMBER.sub(replacement, path.read_bytes(), count=1)
            target = folder / f"{path.stem}-c{k:03d}.txt"
            target.write_bytes(data)
            batch.append(target)
        made.append(batch)
    return made


@dataclass
class Progress:
    """Write rate and Chroma's size at every `step` chunks stored."""

    stack: Stack
    step: int
    base: int = 0  # chunks stored before the current phase
    points: list[dict[str, float]] = field(default_factory=list)
    _last: tuple[float, int] = (0.0, 0)

    def start(self) -> None:
        self._last = (time.monotonic(), self.base)

    def __call__(self, snapshot: Snapshot) -> None:
        stored = self.base + snapshot.chunks_stored
        if stored < (len(self.points) + 1) * self.step:
            return
        now = time.monotonic()
        rate = (stored - self._last[1]) / max(1e-9, now - self._last[0])
        self._last = (now, stored)
        chroma = self.stack.pids()["chroma"]
        self.points.append({
            "stored": stored, "chunks_per_second": round(rate, 1),
            "chroma_rss_mb": round(rss_mb(chroma), 1),
            "chroma_disk_mb": round(disk_mb(self.stack.root / "chroma"), 1),
        })
        print(json.dumps(self.points[-1]), flush=True)


def ingest(stack: Stack, files: list[Path], progress: Progress) -> list[str]:
    settings = resources.settings().with_changes(
        collection=COLLECTION, redis_url=stack.redis_url, chroma_url=stack.chroma_url)
    sources = [Source("file", str(path), path.name) for path in files]
    submission = Submission(client_app(stack.redis_url), connect(stack.redis_url), settings,
                            Plan(sources, []))
    progress.start()
    report = submission.run(on_progress=progress)
    progress.base += report.snapshot.chunks_stored
    return [f"{label}: {why}" for label, why in report.failures.items()]


def search_times(store: ChunkStore, vectors: Any, searches: int) -> dict[str, Any]:
    """p50/p99 ms of `searches` searches (k=5), without and with a filter on one book."""
    book = str(store.metadatas(limit=1)[0]["book_id"])
    found: dict[str, Any] = {"chunks": store.count()}
    where = {"book_id": book}
    ways: dict[str, Callable[[Any], object]] = {
        "no_filter": lambda v: store.search(v, 5),
        # ragmill's search: a filter matching few chunks is ranked from their vectors.
        "one_book": lambda v: store.search(v, 5, where),
        # Chroma's own filtered query, which ragmill used for every filter before.
        "one_book_chroma_query": lambda v: store.collection.query(
            query_embeddings=[v], n_results=5, where=where,
            include=["documents", "metadatas", "distances"]),
        # What the filter alone costs: the ids it matches, no vectors, no ranking.
        "one_book_ids_only": lambda v: store.collection.get(where=where, include=[]),
        # The same vectors fetched in two steps: the ids, then the vectors by id.
        "one_book_vectors_by_id": lambda v: store.collection.get(
            ids=store.collection.get(where=where, include=[])["ids"], include=["embeddings"]),
        "one_book_vectors_by_filter": lambda v: store.collection.get(
            where=where, include=["embeddings"]),
    }
    for name, way in ways.items():
        times = []
        for i in range(searches):
            started = time.perf_counter()
            way(vectors[i % len(vectors)])
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        found[name] = {"p50_ms": round(statistics.median(times), 1),
                       "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 1)}
    print(json.dumps(found), flush=True)
    return found


def measure_existing(chroma_url: str, collection: str, searches: int) -> dict[str, Any]:
    """`search_times` on a collection already filled, e.g. this benchmark's while its workers
    are paused."""
    from tasks.store import chroma_client

    store = ChunkStore.open(chroma_client(chroma_url), collection)
    return search_times(store, question_vectors(), searches)


def write_costs(chroma_url: str, collection: str, rounds: int = 5) -> dict[str, Any]:
    """With no other writes going: ms to upsert 256 chunks of new text (new ids, random unit
    vectors, metadata shaped as ragmill's), and ms of the reuse lookup (tasks/reuse.py) for 256
    hashes of stored texts, each stored once per copy; the two requests an embed batch makes.
    The upserted chunks are deleted again."""
    import numpy as np

    from tasks.reuse import HASH_KEY, stored_vectors
    from tasks.store import chroma_client

    store = ChunkStore.open(chroma_client(chroma_url), collection)
    sample = store.collection.get(limit=256 * rounds, include=["metadatas"])
    hashes = [str(m[HASH_KEY]) for m in sample["metadatas"] or [] if m and HASH_KEY in m]
    dimension = len(store.collection.get(limit=1, include=["embeddings"])["embeddings"][0])
    rng = np.random.default_rng(0)
    upserts, lookups = [], []
    for r in range(rounds):
        vectors = rng.standard_normal((256, dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ids = [f"write-cost-{r}-{i}" for i in range(256)]
        metadatas: list[Metadata] = [
            {"book_id": f"write-cost-{r}", "title": "t", "author": "a", "language": "en",
             "source": "bench", "position": i, HASH_KEY: f"write-cost-{r}-{i}"}
            for i in range(256)]
        started = time.perf_counter()
        store.upsert(ids, vectors, [f"new passage {r} {i} " * 40 for i in range(256)], metadatas)
        upserts.append((time.perf_counter() - started) * 1000)
        store.delete(ids)
        page = hashes[r * 256:(r + 1) * 256]
        started = time.perf_counter()
        stored_vectors(store.collection, page)
        lookups.append((time.perf_counter() - started) * 1000)
    found = {"chunks": store.count(), "upsert_256_ms": round(statistics.median(upserts), 1),
             "reuse_lookup_256_ms": round(statistics.median(lookups), 1),
             "copies_of_a_text": len(store.collection.get(
                 where={HASH_KEY: hashes[0]}, include=[])["ids"]) if hashes else 0}
    print(json.dumps(found), flush=True)
    return found


def question_vectors() -> Any:
    from tasks.embedding.backend import EmbeddingBackend

    encoder = EmbeddingBackend.from_settings(resources.settings()).local_encoder(None)
    return encoder.encode([f"{q}, {i}" for i in range(4) for q in QUESTIONS])


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    books = cut_books(args.folder, args.base_chunks, args.books, workdir / "books")
    texts, tokens = chunk_texts(books)
    table = vector_table(texts, tokens, args.cache)
    copies = copy_books(books, math.ceil(args.chunks / len(texts)), workdir / "copies")
    first = math.ceil(args.first / len(texts))
    phases = [[f for batch in copies[:first] for f in batch],
              [f for batch in copies[first:] for f in batch]]
    result: dict[str, Any] = {"distinct_texts": len(texts), "copies": len(copies),
                              "jitter": args.jitter, "searches": [], "failures": [],
                              "json": str(args.json) if args.json else None}
    questions = question_vectors()
    embed_env = {JITTER_ENV: str(args.jitter)}
    with running_stack(workdir / "stack", args.processes, table, embed_env) as stack:
        progress = Progress(stack, args.step)
        result["steps"] = progress.points
        store = ChunkStore.connect(stack.chroma_url, COLLECTION)
        try:
            for files in phases:
                if files:
                    result["failures"] += ingest(stack, files, progress)
                    result["searches"].append(search_times(store, questions, args.searches))
        except KeyboardInterrupt:
            result["interrupted_at"] = store.count()
        if args.hold:
            hold(stack, result)
    return result


def hold(stack: Stack, result: dict[str, Any]) -> None:
    """Keep the stack up for other measurements (the search service at this size) until
    SIGTERM or Ctrl-C; the figures so far are written first."""
    print(json.dumps({"holding": True, "chroma_url": stack.chroma_url,
                      "redis_url": stack.redis_url, "collection": COLLECTION}), flush=True)
    if result.get("json"):
        Path(result["json"]).write_text(json.dumps(result, indent=2))
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.million")
    parser.add_argument("folder", type=Path, nargs="?", default=DEFAULT_FOLDER)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--first", type=int, default=100_000, help="chunks of the first phase")
    parser.add_argument("--step", type=int, default=100_000, help="note the rate every N")
    parser.add_argument("--base-chunks", type=int, default=20000, help="distinct chunks, about")
    parser.add_argument("--books", type=int, default=16)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--jitter", type=float, default=0.1)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--cache", type=Path, default=Path("data/bench-vectors"))
    parser.add_argument("--workdir", type=Path, help="default: a temporary directory")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--hold", action="store_true",
                        help="keep the stack up after the run until SIGTERM or Ctrl-C")
    parser.add_argument("--searches-only", metavar="CHROMA_URL",
                        help="only time the searches, on the collection at this Chroma server")
    args = parser.parse_args(argv)
    if args.searches_only:
        print(json.dumps(measure_existing(args.searches_only, COLLECTION, args.searches)))
        write_costs(args.searches_only, COLLECTION)
        return
    with tempfile.TemporaryDirectory(prefix="ragmill-million-", dir=args.workdir) as workdir:
        result = run(args, Path(workdir))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
