"""The same books as TXT, EPUB and PDF folders through the whole pipeline: chunks/s of each.

    python -m benchmarks.formats_e2e /work/shared/corpus --books alice-in-wonderland:11

Starts one private stack (pipeline.bench.e2e.bench_stack), warms its workers on the first book's
text, then ingests each format's folder into its own collection, as local files (read by the
client, sent as bytes, extracted in the io worker's process pool), and prints chunks, seconds,
chunks/s and the ratio to the TXT figure. `--books` pairs a file stem of `corpus/formats/` with
the Gutenberg id of its text in `corpus/gutenberg/`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from corpus.sources import Source
from pipeline.bench.cpu_account import CpuAccount
from pipeline.bench.e2e import RunResult, bench_stack
from pipeline.ingest.submission import Plan, Submission
from pipeline.stack.broker import client_app, connect
from pipeline.stack.local import LocalStack, StackInfo
from tasks.settings import Settings

__all__ = ["main"]

FORMATS = ("txt", "epub", "pdf")
DEFAULT_BOOKS = ("alice-in-wonderland:11", "frankenstein:84")


def format_folders(corpus: Path, books: list[tuple[str, str]], into: Path) -> dict[str, Path]:
    """One folder per format, holding the same books."""
    folders = {kind: into / kind for kind in FORMATS}
    for folder in folders.values():
        folder.mkdir(parents=True)
    for stem, book_id in books:
        shutil.copy(corpus / "gutenberg" / f"pg{book_id}.txt", folders["txt"] / f"{stem}.txt")
        for kind in ("epub", "pdf"):
            shutil.copy(corpus / "formats" / f"{stem}.{kind}", folders[kind] / f"{stem}.{kind}")
    return folders


def ingest_folder(
    stack: LocalStack, info: StackInfo, folder: Path, settings: Settings, collection: str
) -> RunResult:
    """Ingest every file of `folder` into `collection` and time it."""
    settings = settings.with_changes(collection=collection, redis_url=info.redis_url)
    sources = [Source("file", str(p), p.name) for p in sorted(folder.iterdir())]
    account = CpuAccount({s.name: s.pid for s in stack.services})
    report = Submission(client_app(info.redis_url), connect(info.redis_url), settings,
                        Plan(sources, [])).run()
    return RunResult(
        chunks=report.chunks_new, seconds=report.seconds, books=report.snapshot.books_done,
        failures=[f"{k}: {v}" for k, v in report.failures.items()], worker_rss_mb=0.0,
        worker_processes=0, redis_peak_mb=0.0, redis_start_mb=0.0, cpu=account.finish(),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="folder holding gutenberg/ and formats/")
    parser.add_argument("--books", nargs="+", default=list(DEFAULT_BOOKS), metavar="STEM:ID")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="embed processes (default: cores)")
    args = parser.parse_args(argv)
    books = [tuple(pair.split(":", 1)) for pair in args.books]
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory(prefix="ragmill-bench-") as scratch:
        root = Path(scratch)
        folders = format_folders(args.corpus, [(s, i) for s, i in books], root / "books")
        with bench_stack(root / "data", args.processes, {}) as (stack, info):
            # Load the model in every embed process and start the extraction pool first.
            ingest_folder(stack, info, folders["txt"], settings, "bench-warmup")
            results = {
                kind: ingest_folder(stack, info, folders[kind], settings, f"bench-{kind}")
                for kind in FORMATS
            }
    base = results["txt"].chunks_per_second
    print(f"{'format':6} {'books':>5} {'chunks':>7} {'seconds':>8} {'chunks/s':>9} {'vs txt':>7}")
    for kind, r in results.items():
        ratio = r.chunks_per_second / base if base else 0.0
        print(f"{kind:6} {r.books:5} {r.chunks:7} {r.seconds:8.1f} {r.chunks_per_second:9.1f} "
              f"{ratio:7.2f}")
        for failure in r.failures:
            print(f"  failed: {failure}")


if __name__ == "__main__":
    main()
