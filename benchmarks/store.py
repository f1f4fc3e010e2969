"""CPU Chroma's server spends to store chunks, by chunks a request (RAGMILL_BATCH_CHUNKS).

    python -m benchmarks.store path/to/gutenberg --chunks 6000 --sizes 8,64,256,512

Cuts plain-text books into chunks as ingest does, starts a fresh `chroma run` for each request
size, and upserts the chunks through ragmill's ChunkStore with the metadata an embed task
writes, in requests of that many chunks. Reports the server's CPU (from /proc) a chunk, and a
least-squares fit of it as a cost a chunk plus a cost a request. The vectors are random unit
vectors: no model runs, so the figures are the store's alone. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from corpus.book import prepare_book
from pipeline.bench.cpu_account import cpu_seconds
from pipeline.stack import services
from pipeline.stack.local import service_env
from tasks import resources
from tasks.embed import chunk_metadata
from tasks.fetch import book_info, chunk_item
from tasks.messages import BookInfo, ChunkItem
from tasks.store import ChunkStore

__all__ = ["main"]

Stored = tuple[BookInfo, ChunkItem]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.store")
    parser.add_argument("folder", type=Path, help="a folder of plain-text books (*.txt)")
    parser.add_argument("--chunks", type=int, default=6000, help="chunks to store per size")
    parser.add_argument("--sizes", default="8,64,256,512", help="chunks a request, comma-separated")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    chunks = book_chunks(sorted(args.folder.glob("*.txt")), args.chunks)
    if not chunks:
        parser.error(f"{args.folder}: no .txt books there; give a folder of plain-text books")
    vectors = np.random.default_rng(0).standard_normal((len(chunks), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    per_chunk = {}
    for size in sizes:
        per_chunk[size] = server_ms_a_chunk(chunks, vectors, size)
        print(f"{size:4d} chunks a request: {per_chunk[size]:.2f} ms of server CPU a chunk")
    if len(sizes) > 1:
        # ms a chunk = a + b / size: a is the cost of a chunk, b the cost of a request.
        a, b = np.linalg.lstsq(
            np.array([[1.0, 1.0 / size] for size in sizes]),
            np.array([per_chunk[size] for size in sizes]), rcond=None,
        )[0]
        print(f"fit: {a:.2f} ms a chunk + {b:.1f} ms a request")
    print(f"{len(chunks)} chunks a size")


def book_chunks(files: list[Path], limit: int) -> list[Stored]:
    """Up to `limit` chunks of `files`, each with its book's metadata, as ingest cuts them."""
    settings = resources.settings()
    tokenizer = resources.tokenizer()
    config = resources.chunk_config(settings.chunk_tokens, settings.chunk_overlap)
    found: list[Stored] = []
    for path in files:
        book = prepare_book(path.read_bytes(), name=path.name, tokenizer=tokenizer,
                            config=config, fallback_id=path.stem)
        info = book_info(book, path.name)
        found += [(info, chunk_item(chunk)) for chunk in book.chunks]
        if len(found) >= limit:
            break
    return found[:limit]


def server_ms_a_chunk(chunks: list[Stored], vectors: np.ndarray, size: int) -> float:
    """CPU milliseconds a chunk of a fresh Chroma server storing `chunks` `size` at a time."""
    with tempfile.TemporaryDirectory(prefix="ragmill-store-bench-") as workdir:
        root = Path(workdir)
        service, url = services.start_chroma(root / "chroma", root, service_env(root))
        try:
            store = ChunkStore.connect(url, "store-bench")
            before = cpu_seconds(service.pid)
            for start in range(0, len(chunks), size):
                part = chunks[start : start + size]
                store.upsert(
                    [item.id for _, item in part], vectors[start : start + size],
                    [item.text for _, item in part],
                    [chunk_metadata(info, item) for info, item in part],
                )
            return 1000 * (cpu_seconds(service.pid) - before) / len(chunks)
        finally:
            service.stop(grace=5)


if __name__ == "__main__":
    main()
