"""Retrieval quality per backend on the bundled question set, beside the bench's speed figures.

Every backend embeds the very same chunks (the question books, chunked as a worker chunks them)
and the questions; an exact search (a dot product over all chunks, no index) ranks them, so the
only thing that differs between two backends is the vectors. Scores are recall@1/5/10 and
MRR@10 (pipeline.eval), and each backend is paired question by question with the first one,
the reference: answers found by one backend only are what tell a real difference from noise.

    python -m pipeline.bench.retrieval --backends onnx,onnx-int8

No Chroma and no workers: the figures measure the vectors, not the store. Chunks are encoded
in the pipeline's batch size, longest first, as an embed worker encodes them.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.bench.corpus import BenchCorpus
from pipeline.eval import EvalResult, Question, Retrieved, compare, evaluate, load_questions
from tasks.settings import Settings

__all__ = [
    "BUNDLED_QUESTIONS",
    "BackendRetrieval",
    "RetrievalReport",
    "bench_retrieval",
    "book_chunks",
    "exact_search",
    "measure_retrieval",
    "retrieval_markdown",
    "smallest_books",
]

BUNDLED_QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "gutenberg_questions.jsonl"


@dataclass(frozen=True)
class BackendRetrieval:
    """One backend's run over the question set: its scores and how long encoding took."""

    backend: str
    result: EvalResult
    chunks: int
    encode_seconds: float


@dataclass(frozen=True)
class RetrievalReport:
    """Every backend's scores, each paired with the reference (the first backend)."""

    questions: int
    books: int
    runs: list[BackendRetrieval]

    def as_dict(self) -> dict[str, Any]:
        reference = self.runs[0]
        return {
            "questions": self.questions,
            "books": self.books,
            "chunks": reference.chunks,
            "reference": reference.backend,
            "backends": [
                {
                    "backend": run.backend,
                    **run.result.overall.as_dict(),
                    "encode_seconds": round(run.encode_seconds, 1),
                    "paired_with_reference": compare(reference.result, run.result).as_dict()[
                        "paired"
                    ],
                }
                for run in self.runs
            ],
        }

    def markdown(self) -> list[str]:
        return retrieval_markdown(self.as_dict())


def retrieval_markdown(figures: dict[str, Any]) -> list[str]:
    """Markdown lines of `RetrievalReport.as_dict()`: a row per backend, paired counts against
    the reference at k=5 and 10."""
    lines = [
        f"Retrieval on the bundled question set ({figures['questions']} questions, "
        f"{figures['books']} books, {figures['chunks']} chunks; exact search; paired against "
        f"{figures['reference']}):",
        "",
        "| backend | recall@1 | recall@5 | recall@10 | MRR@10 | reference only @5 | "
        "backend only @5 | reference only @10 | backend only @10 | encode s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in figures["backends"]:
        paired = {p["k"]: p for p in run["paired_with_reference"]}
        counts = " | ".join(f"{paired[k]['a_only']} | {paired[k]['b_only']}" for k in (5, 10))
        lines.append(
            f"| {run['backend']} | {run['recall@1']:.3f} | {run['recall@5']:.3f} | "
            f"{run['recall@10']:.3f} | {run['mrr@10']:.3f} | {counts} | {run['encode_seconds']} |"
        )
    return lines


def bench_retrieval(
    backends: Sequence[str],
    corpus: BenchCorpus,
    settings: Settings,
    say: Callable[[str], None],
    max_chunks: int,
) -> dict[str, Any]:
    """`ragmill bench`'s retrieval figures: the bundled questions of the smallest books that
    make at most `max_chunks` chunks, each backend paired with the first."""
    questions = load_questions(BUNDLED_QUESTIONS)
    present = set(corpus.ids)
    small = smallest_books(corpus, [q.book for q in questions if q.book in present], max_chunks)
    chosen = [q for q in questions if q.book in small]
    if not chosen:
        return {}
    return measure_retrieval(backends, chosen, corpus, settings, say).as_dict()


def book_chunks(corpus: BenchCorpus, books: Sequence[str]) -> list[Retrieved]:
    """Every chunk of `books`, as a worker would store them (id `book:position`)."""
    return [
        Retrieved(id=f"{book}:{position}", text=text, book_id=book)
        for book in books
        for position, text in enumerate(corpus.chunk_texts(book, None))
    ]


def smallest_books(corpus: BenchCorpus, books: Sequence[str], max_chunks: int) -> set[str]:
    """The smallest of `books` (by file size) that together chunk into at most `max_chunks`."""
    kept: set[str] = set()
    total = 0
    for book in sorted(set(books), key=lambda b: (corpus.directory / f"pg{b}.txt").stat().st_size):
        total += len(corpus.chunk_texts(book, None))
        if total > max_chunks:
            break
        kept.add(book)
    return kept


def exact_search(
    chunks: Sequence[Retrieved],
    chunk_vectors: np.ndarray,
    questions: Sequence[str],
    question_vectors: np.ndarray,
) -> Callable[[str, int], list[Retrieved]]:
    """A search over `chunks` by dot product (vectors are unit length), for the questions given."""
    rows = {text: i for i, text in enumerate(questions)}

    def search(text: str, k: int) -> list[Retrieved]:
        scores = chunk_vectors @ question_vectors[rows[text]]
        k = min(k, len(chunks))
        best = np.argpartition(-scores, k - 1)[:k]
        return [chunks[i] for i in best[np.argsort(-scores[best], kind="stable")]]

    return search


def measure_retrieval(
    backends: Sequence[str],
    questions: Sequence[Question],
    corpus: BenchCorpus,
    settings: Settings,
    say: Callable[[str], None] = lambda message: None,
    *,
    threads: int | None = None,
) -> RetrievalReport:
    """Embed the question books' chunks and the questions with each backend; score and pair."""
    from tasks.embedding import Embedder

    books = sorted({q.book for q in questions if q.book}, key=lambda b: (len(b), b))
    missing = [b for b in books if b not in corpus.ids]
    if missing:
        raise ValueError(
            f"{corpus.directory}: the questions name books it does not hold ({', '.join(missing)})"
        )
    say(f"chunking {len(books)} question books")
    chunks = book_chunks(corpus, books)
    texts = [q.question for q in questions]
    runs = []
    for backend in backends:
        # "onnx-int8:int8-dynamic-avx512_vnni" names a variant; a bare backend runs its default.
        name, _, variant = backend.partition(":")
        embedder = Embedder(
            settings.model,
            backend=name,
            variant=variant or None,
            batch_size=settings.encode_batch_size,
            threads=threads or os.cpu_count() or 1,
        )
        say(f"{backend}: encoding {len(chunks)} chunks")
        started = time.monotonic()
        chunk_vectors = embedder.encode([c.text for c in chunks])
        seconds = time.monotonic() - started
        search = exact_search(chunks, chunk_vectors, texts, embedder.encode(texts))
        result = evaluate(questions, search)
        say(f"{backend}: recall@5 {result.overall.recall[5]:.3f} ({seconds:.0f}s to encode)")
        runs.append(BackendRetrieval(backend, result, len(chunks), seconds))
    return RetrievalReport(questions=len(questions), books=len(books), runs=runs)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m pipeline.bench.retrieval`: print the table and, with --json, write it."""
    from tasks.embedding import limit_compute_threads

    parser = argparse.ArgumentParser(prog="python -m pipeline.bench.retrieval")
    parser.add_argument(
        "--backends", default="onnx,onnx-int8",
        help="the first is the reference; BACKEND:VARIANT picks a variant (EMBED_VARIANT's names)",
    )
    parser.add_argument("--questions", type=Path, default=BUNDLED_QUESTIONS)
    parser.add_argument(
        "--corpus", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "corpus"
        / "gutenberg", help="folder of pg<id>.txt books with a catalog.csv",
    )
    parser.add_argument("--books", type=int, help="only questions of the first N books")
    parser.add_argument(
        "--max-chunks", type=int,
        help="only the smallest question books (by file size) that together make at most this "
        "many chunks, and their questions",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    threads = os.cpu_count() or 1
    limit_compute_threads(threads)
    questions = load_questions(args.questions)
    if args.books:
        keep = list(dict.fromkeys(q.book for q in questions))[: args.books]
        questions = [q for q in questions if q.book in keep]
    settings = Settings.from_env()
    corpus = BenchCorpus(args.corpus.absolute(), settings)
    if args.max_chunks:
        small = smallest_books(corpus, [q.book for q in questions if q.book], args.max_chunks)
        questions = [q for q in questions if q.book in small]
    report = measure_retrieval(
        [b.strip() for b in args.backends.split(",") if b.strip()],
        questions,
        corpus,
        settings,
        lambda message: print(message, flush=True),
        threads=threads,
    )
    print("\n".join(report.markdown()))
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=2) + "\n")


if __name__ == "__main__":
    main()
