"""Benchmark of the shared LLM rate limit: achieved requests per minute and limit violations.

For 1, 2 and 4 worker processes (threads pool) it starts a private redis-server, the local
OpenAI-compatible test server (which keeps its own sliding-window count and answers 429 to any
request over the limit) and the `celery -A tasks worker -Q llm` processes, queues a backlog larger
than the limit allows, and counts what the server accepted over whole windows.

    python -m tests.bench.llm_limit
    python -m tests.bench.llm_limit --processes 1 2 4 --rpm 60 --window 10 --windows 3

The window is shortened (10 s by default instead of 60 s) with proportional limits so a run takes
seconds, not minutes; the output says so. It runs from a source checkout, beside the test server
it needs (tests/support/chat_server.py).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any

from celery import Celery

from pipeline.stack.broker import client_app
from pipeline.stack.local import service_env
from pipeline.stack.processes import Service
from pipeline.stack.services import start_redis, start_worker, wait_for_workers

if TYPE_CHECKING:
    from tests.support.chat_server import LLMServer


@dataclass(frozen=True)
class BenchResult:
    """What one configuration achieved."""

    processes: int
    threads: int
    accepted: int
    tokens: int
    seconds: float
    limit_per_minute: float
    violations: int
    max_in_window: int
    rpm: int
    tpm: int
    window: float

    @property
    def per_minute(self) -> float:
        return self.accepted / self.seconds * 60 if self.seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.per_minute / self.limit_per_minute

    @property
    def token_ratio(self) -> float:
        """Tokens accepted per window over LLM_TPM."""
        return self.tokens / (self.seconds / self.window) / self.tpm

    @property
    def utilisation(self) -> float:
        """The share of the binding limit (requests or tokens, whichever is fuller) used."""
        return max(self.ratio, self.token_ratio)


@contextlib.contextmanager
def private_redis(workdir: Path) -> Iterator[str]:
    """A throwaway redis-server on a free port."""
    service, url = start_redis(workdir, workdir, persist=False)
    try:
        yield url
    finally:
        service.stop(grace=5)


def start_workers(
    role: str, n: int, threads: int, env: dict[str, str], log_dir: Path, tag: str,
    include: tuple[str, ...] = (),
) -> list[Service]:
    """`n` workers of `role` (threads pool, `threads` each), started together, each answering
    ping."""
    workers = {
        f"{tag}{i}": start_worker(role, env, log_dir, name=f"{tag}{i}", concurrency=threads,
                                  wait=False, include=include)
        for i in range(n)
    }
    wait_for_workers(env["REDIS_URL"], workers)
    return list(workers.values())


def start_llm_workers(
    n: int, threads: int, env: dict[str, str], log_dir: Path, tag: str = "llm"
) -> list[Service]:
    """`n` llm workers (threads pool, `threads` each), started together, each answering ping."""
    # The benchmark's own task (benchmarks/llm_complete.py): one prompt per message.
    return start_workers("llm", n, threads, env, log_dir, tag, include=("benchmarks.llm_complete",))


def measure(
    server: LLMServer, *, processes: int, threads: int, rpm: int, tpm: int, window: float,
    windows: int,
) -> BenchResult:
    """What `server` accepted over `windows` whole windows from its first accepted request.

    The backlog must already be queued and larger than the limit allows in that time.
    """
    deadline = time.monotonic() + window * (windows + 3) + 30
    while not server.accepted() and time.monotonic() < deadline:
        time.sleep(0.05)
    first = server.accepted()[0].at if server.accepted() else time.time()
    span = window * windows
    while time.time() < first + span and time.monotonic() < deadline:
        time.sleep(0.1)
    accepted = [s for s in server.accepted() if first <= s.at < first + span]
    max_n, _ = server.max_in_window()
    return BenchResult(
        processes=processes,
        threads=threads,
        accepted=len(accepted),
        tokens=sum(s.tokens for s in accepted),
        seconds=span,
        limit_per_minute=rpm / window * 60,
        violations=len(server.violations),
        max_in_window=max_n,
        rpm=rpm,
        tpm=tpm,
        window=window,
    )


def llm_env(base: dict[str, str], redis_url: str, server_url: str, **limits: Any) -> dict[str, str]:
    """The environment of an LLM worker: its Redis, the endpoint and the limit (LLM_*)."""
    env = dict(base)
    env.update(REDIS_URL=redis_url, LLM_BASE_URL=server_url, LLM_MODEL="bench-model")
    env.update({f"LLM_{k.upper()}": str(v) for k, v in limits.items()})
    return env


def queue_prompts(app: Celery, n: int, words: int = 40, max_tokens: int = 20) -> None:
    """`n` distinct `ragmill.llm.complete` tasks on queue llm; prompt i says "task i"."""
    filler = " ".join(["lorem"] * words)
    for i in range(n):
        app.send_task(
            "ragmill.llm.complete", args=[f"task {i} {filler}", max_tokens], queue="llm"
        )


def bench_one(
    processes: int, threads: int, rpm: int, tpm: int, window: float, windows: int,
    latency: float, workdir: Path,
) -> BenchResult:
    from tests.support.chat_server import serve_llm

    with private_redis(workdir / "redis") as redis_url, serve_llm(
        rpm=rpm, tpm=tpm, window=window, latency=latency
    ) as server:
        app = client_app(redis_url)
        env = llm_env(service_env(workdir), redis_url, server.url, rpm=rpm, tpm=tpm,
                      window_seconds=window, timeout=10, max_tokens=50)
        workers = start_llm_workers(processes, threads, env, workdir / "logs")
        try:
            queue_prompts(app, rpm * (windows + 2))
            return measure(server, processes=processes, threads=threads, rpm=rpm, tpm=tpm,
                           window=window, windows=windows)
        finally:
            for w in workers:
                w.stop(grace=10)
            app.close()


def add_limit_arguments(
    parser: argparse.ArgumentParser, *, rpm: int, window: float, windows: int
) -> None:
    """The options of every limit benchmark: processes, threads, and the limit and its window."""
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--threads", type=int, default=4, help="threads per worker process")
    parser.add_argument("--rpm", type=int, default=rpm, help="requests per window")
    parser.add_argument("--tpm", type=int, default=0,
                        help="tokens per window (default: so many that requests bind)")
    parser.add_argument("--window", type=float, default=window, help="window seconds (real: 60)")
    parser.add_argument("--windows", type=int, default=windows, help="windows measured per run")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.llm_limit", description=(__doc__ or "").splitlines()[0]
    )
    add_limit_arguments(parser, rpm=60, window=10.0, windows=3)
    parser.add_argument("--latency", type=float, default=0.05, help="server reply delay, s")
    args = parser.parse_args(argv)
    tpm = args.tpm or args.rpm * 10_000
    short = (
        f"a shortened window: {args.rpm / args.window * 60:.0f} requests per minute"
        if args.window != 60
        else "the real one-minute window"
    )
    print(
        f"LLM limit benchmark: LLM_RPM={args.rpm}, LLM_TPM={tpm} per "
        f"LLM_WINDOW_SECONDS={args.window:g} ({short}); {args.windows} windows measured, "
        f"{args.threads} threads per process, server latency {args.latency * 1000:.0f} ms"
    )
    print(f"{'processes':>9} {'req/min':>9} {'limit/min':>9} {'of limit':>8} "
          f"{'max/window':>10} {'tokens of limit':>15} {'violations':>10}")
    worst = 0
    with TemporaryDirectory(prefix="ragmill-bench-llm-") as tmp:
        for n in args.processes:
            r = bench_one(n, args.threads, args.rpm, tpm, args.window, args.windows,
                          args.latency, Path(tmp) / f"p{n}")
            worst = max(worst, r.violations)
            print(f"{r.processes:>9} {r.per_minute:>9.1f} {r.limit_per_minute:>9.0f} "
                  f"{r.ratio:>7.1%} {r.max_in_window:>6}/{r.rpm:<3} {r.token_ratio:>15.1%} "
                  f"{r.violations:>10}",
                  flush=True)
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
