"""The `ragmill bench` command line."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click
from rich.console import Console

from pipeline.bench.corpus import BenchCorpusError
from pipeline.bench.report import write
from pipeline.bench.runner import Bench, BenchOptions
from pipeline.stack.processes import StackError
from tasks.settings import EMBED_BACKENDS, REMOTE_BACKEND, Settings, SettingsError

# The bench measures this machine's CPU; an endpoint's speed is its own benchmark
# (tests/bench/remote_embed.py).
LOCAL_BACKENDS = tuple(b for b in EMBED_BACKENDS if b != REMOTE_BACKEND)
console = Console(stderr=True, highlight=False, soft_wrap=True)
# Where a checkout of ragmill finds the Gutenberg corpus beside it; an installed ragmill is
# given --corpus (or RAGMILL_BENCH_CORPUS) instead.
DEFAULT_CORPUS = Path("..") / "shared" / "corpus" / "gutenberg"
FOLDER = click.Path(path_type=Path)


def _ints(name: str, raw: str) -> list[int]:
    try:
        values = [int(v) for v in raw.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(
            f"{raw!r}: give whole numbers separated by commas", param_hint=name
        ) from None
    if not values or min(values) < 1:
        raise click.BadParameter(f"{raw!r}: give positive whole numbers", param_hint=name)
    return values


def _backends(raw: str) -> list[str]:
    names = [b.strip() for b in raw.split(",") if b.strip()]
    bad = [b for b in names if b not in LOCAL_BACKENDS]
    if bad or not names:
        raise click.BadParameter(
            f"{raw!r}: choose from {', '.join(LOCAL_BACKENDS)}", param_hint="--backends"
        )
    return names


# Every option with a default shows it in --help.
@click.command(name="bench", context_settings={"show_default": True})
@click.option(
    "--sizes",
    default="1000,5000,10000",
    help="End-to-end corpus sizes, in chunks, comma-separated.",
)
@click.option(
    "--chunks",
    type=click.IntRange(min=10),
    help="One small size for everything (sizes, bare-encode sample, scaling run).",
)
@click.option(
    "--max-procs",
    type=click.IntRange(min=1),
    help="Scale from 1 to this many embed processes (default: cores).",
)
@click.option(
    "--backends",
    default=",".join(LOCAL_BACKENDS),
    help="Backends for the bare-encode limit and the quality comparison.",
)
@click.option("--backend", help="Backend of the end-to-end runs (default: EMBED_BACKEND's).")
@click.option(
    "--limit-chunks",
    type=click.IntRange(min=10),
    default=2000,
    help="Chunks in the bare-encode sample (drawn from the largest size).",
)
@click.option(
    "--scaling-chunks",
    type=click.IntRange(min=10),
    default=2000,
    help="Chunks of each 1..N embed-process run.",
)
@click.option(
    "--batch-sizes",
    default="8,16,32,64,128",
    help="Encode batch sizes to compare ('' to skip).",
)
@click.option("--no-baseline", is_flag=True, help="Skip sentence-transformers' defaults.")
@click.option("--no-pool", is_flag=True, help="Skip sentence-transformers' multi-process pool.")
@click.option(
    "--quick",
    is_flag=True,
    help="A few minutes: sizes 500,1000, 500-chunk samples, no batch sweep.",
)
@click.option("--corpus", "corpus_dir", type=FOLDER, default=DEFAULT_CORPUS,
              envvar="RAGMILL_BENCH_CORPUS", show_default=True,
              help="Folder of pg<id>.txt books with a catalog.csv (or RAGMILL_BENCH_CORPUS).")
@click.option("--out", "out_dir", type=FOLDER, default=Path("bench-results"),
              help="Where bench.json and bench.md are written.")
@click.option(
    "--retrieval-chunks",
    type=click.IntRange(min=0),
    default=4000,
    help="Recall@k per backend on the bundled questions of the smallest books making at most "
    "this many chunks (0 skips; 40000 takes all 47 books).",
)
@click.option("--keep", is_flag=True, help="Keep the temporary stacks and their logs.")
def bench(
    sizes: str,
    chunks: int | None,
    max_procs: int | None,
    backends: str,
    backend: str | None,
    limit_chunks: int,
    scaling_chunks: int,
    batch_sizes: str,
    no_baseline: bool,
    no_pool: bool,
    quick: bool,
    corpus_dir: Path,
    out_dir: Path,
    keep: bool,
    retrieval_chunks: int,
) -> None:
    """Measure embedding throughput against the machine's limit, end to end.

    \b
      ragmill bench                       # the full run (20+ minutes on 2 cores)
      ragmill bench --quick               # a few minutes
      ragmill bench --chunks 200 --backends onnx --no-pool
    """
    try:
        # --backend stands in for EMBED_BACKEND, so EMBED_VARIANT is checked against it.
        env = dict(os.environ) if backend is None else {**os.environ, "EMBED_BACKEND": backend}
        settings = Settings.from_env(env)
    except SettingsError as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(2)
    size_list = _ints("--sizes", sizes)
    sweep = _ints("--batch-sizes", batch_sizes) if batch_sizes.strip() else []
    sweep_chunks = 300
    if quick:
        size_list, limit_chunks, scaling_chunks, sweep = [500, 1000], 500, 500, []
        retrieval_chunks = min(retrieval_chunks, 1000)
    if chunks is not None:
        size_list, limit_chunks, scaling_chunks = [chunks], chunks, chunks
        retrieval_chunks = min(retrieval_chunks, chunks)
        sweep_chunks = min(sweep_chunks, chunks)
    options = BenchOptions(
        sizes=size_list,
        max_procs=max_procs or (os.cpu_count() or 1),
        backends=_backends(backends),
        backend=settings.embed_backend,
        limit_chunks=limit_chunks,
        scaling_chunks=scaling_chunks,
        batch_sizes=sweep,
        sweep_chunks=sweep_chunks,
        baseline=not no_baseline,
        pool=not no_pool,
        corpus_dir=corpus_dir.absolute(),
        out_dir=out_dir,
        command=shlex.join(["ragmill", "bench", *sys.argv[2:]])
        if "bench" in sys.argv[1:2]
        else shlex.join(["python", "-m", "pipeline.bench", *sys.argv[1:]]),
        keep=keep,
        retrieval_chunks=retrieval_chunks,
    )
    try:
        report = Bench(options, settings, lambda m: console.print(f"[dim]{m}[/]")).run()
    except (BenchCorpusError, StackError, RuntimeError) as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(1)
    # Wide enough for the table when the output goes to a file or a pipe.
    out = Console(highlight=False, soft_wrap=True, width=None if console.is_terminal else 200)
    json_path, md_path = write(report, out_dir, out)
    console.print(f"wrote {json_path} and {md_path}")
