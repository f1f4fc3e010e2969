"""Where an io worker should prepare books: its threads, or processes it owns.

    python -m benchmarks.extraction_layout /work/shared/corpus/formats --threads 4

Prepares (extracts and chunks) every document under a folder three ways and prints the wall
time of each: one after another in one thread; by `--threads` threads of one process, as the io
worker's threads pool would (PDFs under one lock, because PDFium is not thread-safe); and by
tasks/extraction.py's process pool, one process per core, as the io worker does. The pool is
warmed first, so its figure is steady-state work, not process start-up.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from corpus.book import Book, prepare_book
from corpus.sources import sniff_file
from tasks import extraction, resources
from tasks.extraction import PrepareJob, prepare_in_process

__all__ = ["main"]

_pdfium = threading.Lock()


def jobs_in(folder: Path) -> list[PrepareJob]:
    """One job per document under `folder`, with the default chunk settings."""
    settings = resources.settings()
    return [
        PrepareJob(
            data=path.read_bytes(), name=path.name, fallback_id=path.stem,
            chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap,
            max_bytes=settings.max_book_bytes,
        )
        for path in sorted(folder.rglob("*"))
        if path.is_file() and sniff_file(path) is not None
    ]


def in_thread(job: PrepareJob) -> Book:
    """Prepare `job` in the calling thread, as a threads-pool worker would."""
    settings = resources.settings()

    def run() -> Book:
        return prepare_book(
            job.data, name=job.name, tokenizer=resources.tokenizer(),
            config=resources.chunk_config(settings.chunk_tokens, settings.chunk_overlap),
            fallback_id=job.fallback_id, max_bytes=job.max_bytes,
        )

    if job.name.lower().endswith(".pdf"):
        with _pdfium:
            return run()
    return run()


def timed(jobs: list[PrepareJob], workers: int, prepare: Callable[[PrepareJob], Book]) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(prepare, jobs))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--threads", type=int, default=4, help="io worker threads (default 4)")
    args = parser.parse_args(argv)
    jobs = jobs_in(args.folder)
    megabytes = sum(len(j.data) for j in jobs) / 1e6
    in_thread(jobs[0])  # load the tokenizer once, outside the timings
    # Start every pool process (each loads its tokenizer) before timing.
    timed(jobs[: extraction.extraction_processes()], extraction.extraction_processes(),
          prepare_in_process)
    rows = [
        ("one thread", timed(jobs, 1, in_thread)),
        (f"{args.threads} threads, one process", timed(jobs, args.threads, in_thread)),
        (
            f"{args.threads} threads -> {extraction.extraction_processes()} processes",
            timed(jobs, args.threads, prepare_in_process),
        ),
    ]
    extraction.shutdown()
    print(f"{len(jobs)} files, {megabytes:.1f} MB")
    for label, seconds in rows:
        print(f"{label:32} {seconds:7.2f} s  {megabytes / seconds:5.2f} MB/s")


if __name__ == "__main__":
    main()
