"""Benchmark of remote embedding under the shared Redis limit: achieved rate, chunks/s, 429s.

For each server latency and 1, 2 and 4 `embed-remote` worker processes (threads pool) it starts a
private redis-server, the local /v1/embeddings test server (real all-MiniLM-L6-v2 vectors; it
keeps its own sliding window and answers 429 with Retry-After to any request over the limit),
and the workers; one Chroma server serves every configuration. It queues a backlog of
`ragmill.embed_batch` tasks (EmbedBatch messages of synthetic chunks, as the io worker sends them)
larger than the limit allows, so each batch goes the real way: the shared limit, POST
/embeddings, the upsert into Chroma. It counts what the server accepted over whole windows.

    python -m tests.bench.remote_embed
    python -m tests.bench.remote_embed --latency 0.05 0.5 --processes 1 2 4 --rpm 6 --window 6

The window is shortened (6 s instead of 60 s) with proportional limits, so EMBED_RPM=6 per 6 s
is 60 requests per minute and a configuration takes seconds; the output says so. By default
requests bind (EMBED_TPM is generous); a smaller --tpm makes tokens bind. The server encodes
every input with the real model on this machine's CPU, so the limit must stay below what it can
encode: requests are small (4 chunks of 20 words) and the rate modest. It runs from a source
checkout, beside the test server it needs (tests/support/embeddings_server.py).
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from celery import Celery

from pipeline.stack.broker import client_app
from pipeline.stack.local import service_env
from tasks.messages import BookInfo, ChunkItem, EmbedBatch, send_options
from tests.bench.llm_limit import (
    BenchResult,
    add_limit_arguments,
    measure,
    private_redis,
    start_workers,
)

# Common English words: nearly every one is a single token of the MiniLM tokenizer.
WORDS = [
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be",
    "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have",
    "an", "they", "you", "were", "her", "she", "there", "been", "one", "all", "we", "their",
    "has", "would", "when", "if", "so", "no", "will", "can", "more", "other", "what", "time",
    "up", "some", "into", "them", "only", "could", "new", "very", "these", "two", "may", "first",
    "then", "do", "any", "like", "my", "now", "over", "such", "our", "man", "me", "even", "most",
    "made", "after", "also", "did", "many", "before", "must", "through", "back", "years", "where",
    "much", "your", "way", "well", "down", "should", "because", "each", "just", "those", "people",
    "how", "too", "little", "state", "good", "very", "make", "world", "still", "own", "see",
    "men", "work", "long", "get", "here", "between", "both", "life", "being", "under", "never",
    "day", "same", "another", "know", "while", "last", "might", "us", "great", "old", "year",
    "off", "come", "since", "against", "go", "came", "right", "used", "take", "three",
]

# The least share of the binding limit a configuration must use.
MIN_UTILISATION = 0.9


@dataclass(frozen=True)
class EmbedBenchResult:
    """One configuration: the limit's figures and the chunks embedded in the same windows."""

    limit: BenchResult
    latency: float
    chunks: int
    # Replies with status 429 (every request over the server's window is answered so).
    rejected: int

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.limit.seconds if self.limit.seconds else 0.0


def synthetic_batches(
    n: int, chunks: int, words: int, collection: str, run_id: str
) -> list[EmbedBatch]:
    """`n` EmbedBatch messages of `chunks` distinct chunks of `words` words each."""
    rng = random.Random(n * 7919 + chunks)
    book = BookInfo(book_id="bench", title="Benchmark", author="ragmill", language="en",
                    source="bench")
    return [
        EmbedBatch(
            run_id=run_id, collection=collection, book=book, index=b,
            chunks=tuple(
                ChunkItem(id=f"bench-{b}-{c}", position=b * chunks + c, tokens=words,
                          text=f"passage {b} {c}: " + " ".join(rng.choices(WORDS, k=words)))
                for c in range(chunks)
            ),
        )
        for b in range(n)
    ]


def queue_batches(app: Celery, batches: list[EmbedBatch]) -> None:
    """Send each batch to `ragmill.embed_batch` on queue embed-remote, as the io worker does."""
    for batch in batches:
        app.send_task("ragmill.embed_batch", queue="embed-remote", **send_options(batch))


def embed_env(
    base: dict[str, str], redis_url: str, chroma_url: str, server_url: str, *, rpm: int,
    tpm: int, window: float, inputs: int,
) -> dict[str, str]:
    """The environment of an embed-remote worker: its Redis, Chroma, the endpoint and the limit."""
    from tests.support.embeddings_server import MODEL

    env = dict(base)
    env.update(
        REDIS_URL=redis_url, CHROMA_URL=chroma_url, EMBED_BACKEND="openai",
        EMBED_BASE_URL=server_url, EMBED_MODEL=MODEL, EMBED_DIMENSIONS="384",
        EMBED_RPM=str(rpm), EMBED_TPM=str(tpm), EMBED_WINDOW_SECONDS=str(window),
        EMBED_MAX_INPUTS=str(inputs), RAGMILL_BATCH_CHUNKS=str(inputs), EMBED_TIMEOUT="30",
    )
    return env


def bench_one(
    processes: int, threads: int, *, rpm: int, tpm: int, window: float, windows: int,
    latency: float, inputs: int, words: int, chroma_url: str, workdir: Path,
) -> EmbedBenchResult:
    from tests.support.embeddings_server import serve_embeddings

    with private_redis(workdir / "redis") as redis_url, serve_embeddings(
        rpm=rpm, tpm=tpm, window=window, latency=latency
    ) as server:
        app = client_app(redis_url)
        env = embed_env(service_env(workdir), redis_url, chroma_url, server.url, rpm=rpm,
                        tpm=tpm, window=window, inputs=inputs)
        workers = start_workers("embed-remote", processes, threads, env, workdir / "logs",
                                tag="remote")
        try:
            collection = f"bench_{workdir.name}"
            queue_batches(app, synthetic_batches(rpm * (windows + 2), inputs, words,
                                                 collection, f"bench-{workdir.name}"))
            limit = measure(server, processes=processes, threads=threads, rpm=rpm, tpm=tpm,
                            window=window, windows=windows)
            # Every accepted request carries one batch (the token cap does not split it here);
            # the server's input count over its accepted requests says so either way.
            per_request = server.inputs / max(1, len(server.accepted()))
            rejected = sum(1 for s in server.log if s.status == 429)
            return EmbedBenchResult(limit, latency, round(limit.accepted * per_request),
                                    rejected)
        finally:
            for w in workers:
                w.stop(grace=10)
            app.close()


def bound(result: BenchResult) -> str:
    """Which limit set the pace: the one whose share was used more."""
    return "tokens" if result.token_ratio > result.ratio else "requests"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.remote_embed", description=(__doc__ or "").splitlines()[0]
    )
    add_limit_arguments(parser, rpm=6, window=6.0, windows=4)
    parser.add_argument("--latency", type=float, nargs="+", default=[0.05, 0.5],
                        help="server reply delays, s")
    parser.add_argument("--inputs", type=int, default=4,
                        help="chunks per batch and per request (EMBED_MAX_INPUTS)")
    parser.add_argument("--words", type=int, default=20, help="words per chunk")
    args = parser.parse_args(argv)
    tpm = args.tpm or args.rpm * args.inputs * 1000
    per_minute = 60 / args.window
    short = (
        f"a shortened window: {args.rpm * per_minute:.0f} requests and "
        f"{tpm * per_minute / 1000:.0f}k tokens per minute"
        if args.window != 60
        else "the real one-minute window"
    )
    print(
        f"Remote embedding benchmark: EMBED_RPM={args.rpm}, EMBED_TPM={tpm} per "
        f"EMBED_WINDOW_SECONDS={args.window:g} ({short}); {args.windows} windows measured, "
        f"{args.threads} threads per process, {args.inputs} chunks of {args.words} words per "
        f"request"
    )
    print(f"{'latency':>7} {'processes':>9} {'req/min':>8} {'of limit':>8} {'tok/min':>8} "
          f"{'of limit':>8} {'chunks/s':>8} {'max/window':>10} {'violations':>10} {'429s':>5} "
          f"{'bound':>8}")
    worst = 0
    with TemporaryDirectory(prefix="ragmill-bench-embed-") as tmp:
        from tests.support.servers import chroma_server

        with chroma_server(Path(tmp) / "chroma") as chroma_url:
            for latency in args.latency:
                for n in args.processes:
                    r = bench_one(
                        n, args.threads, rpm=args.rpm, tpm=tpm, window=args.window,
                        windows=args.windows, latency=latency, inputs=args.inputs,
                        words=args.words, chroma_url=chroma_url,
                        workdir=Path(tmp) / f"l{int(latency * 1000)}p{n}",
                    )
                    lim = r.limit
                    # A row fails on any request over the limit or on using under 90 % of it.
                    worst = max(worst, lim.violations, int(lim.utilisation < MIN_UTILISATION))
                    tokens_per_minute = lim.tokens / lim.seconds * 60
                    print(f"{latency * 1000:>5.0f}ms {n:>9} {lim.per_minute:>8.1f} "
                          f"{lim.ratio:>8.1%} {tokens_per_minute / 1000:>7.1f}k "
                          f"{lim.token_ratio:>8.1%} {r.chunks_per_second:>8.1f} "
                          f"{lim.max_in_window:>6}/{lim.rpm:<3} {lim.violations:>10} "
                          f"{r.rejected:>5} {bound(lim):>8}", flush=True)
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
