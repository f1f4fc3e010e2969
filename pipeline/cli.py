"""The `ragmill` command line: a thin shell over pipeline functions."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

from pipeline.broker import BrokerUnavailable, client_app, connect, queues_served
from pipeline.processes import StackError
from pipeline.stack import LocalStack, StackPlan, cluster, running_stack
from tasks.settings import Settings, SettingsError

console = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error and exit; no traceback for mistakes a person can fix."""
    console.print(f"[red]error:[/] {message}")
    sys.exit(code)


def load_settings(**overrides: Any) -> Settings:
    try:
        settings = Settings.from_env()
        changes = {k: v for k, v in overrides.items() if v is not None}
        return settings.with_changes(**changes) if changes else settings
    except SettingsError as exc:
        fail(str(exc), code=2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ragmill")
def cli() -> None:
    """ragmill: books in, searchable vectors out, on every core and every machine.

    \b
    Examples:
      ragmill ingest 1342 84 11            # Gutenberg ids
      ragmill ingest ./books/ notes/a.txt  # local files and folders
      ragmill query "a monster made by a scientist" -k 5
      ragmill up                           # keep a local stack with Flower running
    """


def ingest_options(func: Any) -> Any:
    options = [
        click.argument("inputs", nargs=-1),
        click.option(
            "--catalog",
            is_flag=False,
            flag_value="",
            default=None,
            metavar="[PATH|URL]",
            help="Pick books from a Gutenberg pg_catalog.csv (default: the mirror's).",
        ),
        click.option("--language", help="With --catalog: only books in this language (e.g. en)."),
        click.option(
            "--limit", type=click.IntRange(min=1), help="With --catalog: at most this many books."
        ),
        click.option("--mirror", envvar="GUTENBERG_MIRROR", help="Gutenberg mirror base URL."),
        click.option(
            "--chunk-tokens", type=click.IntRange(min=16), help="Largest chunk, in model tokens."
        ),
        click.option(
            "--chunk-overlap",
            type=click.IntRange(min=0),
            help="Tokens shared by neighbouring chunks.",
        ),
        click.option(
            "--books-in-flight",
            type=click.IntRange(min=1),
            help="Books submitted but not yet landed, at most.",
        ),
        click.option(
            "--chunks-in-flight",
            type=click.IntRange(min=1),
            help="Chunks queued but not yet stored before another book is submitted.",
        ),
        click.option(
            "--workers",
            type=click.IntRange(min=1),
            help="Embed processes of a private stack (default: cores).",
        ),
        click.option(
            "--data-dir",
            type=click.Path(path_type=Path),
            help="Where the local stack keeps its data (default ./data).",
        ),
        click.option(
            "--collection",
            envvar="RAGMILL_COLLECTION",
            help="Chroma collection (default: ragmill).",
        ),
        click.option("--fail-fast", is_flag=True, help="Stop at the first book that fails."),
        click.option(
            "--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout."
        ),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
        click.option(
            "--contextualize",
            is_flag=True,
            help="Have the LLM (LLM_BASE_URL, LLM_MODEL) write each chunk's context first.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@cli.command()
@ingest_options
def ingest(**kwargs: Any) -> None:
    """Download, chunk, embed and store books.

    \b
    INPUTS are Gutenberg ids, files, folders (every *.txt inside) and http(s) URLs:
      ragmill ingest 1342 84 11
      ragmill ingest ./books/ ./notes/a.txt https://host/b.txt
      ragmill ingest --catalog --language en --limit 200
    """
    run_ingest(**kwargs)


def run_ingest(
    inputs: tuple[str, ...],
    catalog: str | None,
    language: str | None,
    limit: int | None,
    mirror: str | None,
    chunk_tokens: int | None,
    chunk_overlap: int | None,
    books_in_flight: int | None,
    chunks_in_flight: int | None,
    workers: int | None,
    data_dir: Path | None,
    collection: str | None,
    fail_fast: bool,
    as_json: bool,
    no_progress: bool,
    contextualize: bool = False,
) -> None:
    from pipeline.ingest import CatalogChoice, Submission, plan_sources
    from pipeline.progress_view import ProgressView, print_summary

    if not inputs and catalog is None:
        fail("nothing to ingest; give Gutenberg ids, files, folders or URLs, or --catalog", 2)
    if (language or limit) and catalog is None:
        fail("--language and --limit pick books from a catalog; add --catalog", 2)
    settings = load_settings(
        mirror=mirror,
        chunk_tokens=chunk_tokens,
        chunk_overlap=chunk_overlap,
        books_in_flight=books_in_flight,
        chunks_in_flight=chunks_in_flight,
        data_dir=data_dir.absolute() if data_dir else None,
        collection=collection,
    )
    choice = (
        None
        if catalog is None
        else CatalogChoice(location=catalog or None, language=language, limit=limit)
    )
    plan = plan_sources(list(inputs), choice, settings)
    if contextualize:
        from pipeline.ask import require_llm

        require_llm(fail)
    stack_plan = StackPlan(
        embed_concurrency=workers or (os.cpu_count() or 1), llm_threads=8 if contextualize else 0
    )
    if settings.redis_url is None and running_stack(settings.data_dir) is None:
        console.print(
            f"Starting a private stack under {settings.data_dir} "
            f"(redis-server, Chroma, io and {stack_plan.embed_concurrency} embed workers"
            f"{', an llm worker' if stack_plan.llm_threads else ''})…"
        )
    with stack_errors(), interrupted_before_submission(), cluster(
        settings.data_dir, settings.redis_url, stack_plan
    ) as info:
        redis_url = settings.redis_url or (info.redis_url if info else None)
        assert redis_url is not None
        client = connect(redis_url)
        app = client_app(redis_url)
        if info is None:
            warn_missing_workers(app)
        if contextualize and "llm" not in queues_served(app):
            fail(
                "--contextualize needs a worker on queue 'llm'; start one with "
                "`celery -A tasks worker -Q llm --pool threads -c 8` (with the same LLM_* settings)"
            )
        submission = Submission(
            app, client, settings, plan, fail_fast=fail_fast, contextualize=contextualize
        )
        with ProgressView(console, enabled=not no_progress and console.is_terminal) as view:
            report = submission.run(view.update)
    print_summary(console, report)
    if as_json:
        out.print_json(json.dumps({"run": submission.run_id, **report.as_dict()}))
    if report.interrupted:
        sys.exit(130)
    sys.exit(0 if report.ok else 1)


def warn_missing_workers(app: Any) -> None:
    served = queues_served(app)
    for queue in ("io", "embed"):
        if queue not in served:
            console.print(
                f"[yellow]warning:[/] no worker consumes queue '{queue}' yet; start one with "
                f"`celery -A tasks worker -Q {queue}{' --pool threads' if queue == 'io' else ''}`"
            )


@contextmanager
def interrupted_before_submission() -> Iterator[None]:
    """Ctrl-C while the cluster starts or before the run begins: exit 130, nothing half done.

    Once the run is under way `Submission.run` handles Ctrl-C itself and reports what landed.
    """
    try:
        yield
    except KeyboardInterrupt:
        console.print("Interrupted before any book was submitted. Run the same command again.")
        sys.exit(130)


@contextmanager
def stack_errors() -> Iterator[None]:
    """Turn cluster failures into one-line errors."""
    try:
        yield
    except (StackError, BrokerUnavailable) as exc:
        fail(str(exc))


@click.command(name="ingest")
@ingest_options
def ingest_command(**kwargs: Any) -> None:
    """Download, chunk, embed and store books (same as `ragmill ingest`)."""
    run_ingest(**kwargs)


@cli.command()
@click.argument("text")
@click.option(
    "-k",
    "k",
    type=click.IntRange(min=1, max=1000),
    default=5,
    show_default=True,
    help="How many chunks to return.",
)
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.option("--data-dir", type=click.Path(path_type=Path))
@click.option(
    "--collection",
    envvar="RAGMILL_COLLECTION",
    help="Chroma collection (default: ragmill).",
)
def query(text: str, k: int, as_json: bool, data_dir: Path | None, collection: str | None) -> None:
    """Find the stored chunks closest in meaning to TEXT.

    \b
      ragmill query "a monster made by a scientist" -k 5
    """
    from pipeline.query import search

    settings = load_settings(
        data_dir=data_dir.absolute() if data_dir else None, collection=collection
    )
    with stack_errors(), chunk_store(settings) as store:
        results = search(store, settings, text, k)
    if as_json:
        out.print_json(json.dumps([r.as_dict() for r in results]))
        return
    if not results:
        console.print("No chunks stored yet; run `ragmill ingest` first.")
        sys.exit(1)
    for r in results:
        out.print(
            f"[bold]{r.rank}. score {r.score:.3f}[/]  book {r.book_id}  {r.title}"
            f"{' — ' + r.author if r.author else ''}  (chunk {r.position})"
        )
        out.print(r.text.strip(), markup=False)
        out.print()


@contextmanager
def chunk_store(settings: Settings) -> Iterator[Any]:
    """The store to read: CHROMA_URL's, a running stack's, or a short-lived local server."""
    from tasks.store import ChunkStore

    if settings.chroma_url:
        yield ChunkStore.connect(settings.chroma_url, settings.collection)
        return
    info = running_stack(settings.data_dir)
    if info is not None:
        yield ChunkStore.connect(info.chroma_url, settings.collection)
        return
    if not (settings.data_dir / "chroma").exists():
        fail(f"nothing is stored under {settings.data_dir} yet; run `ragmill ingest` first")
    # A Chroma server owns the directory, never this process: an ingest starting meanwhile
    # waits for the stack lock instead of writing the same files.
    with LocalStack(settings.data_dir, StackPlan(workers=False)) as own:
        yield ChunkStore.connect(own.chroma_url, settings.collection)


@cli.command()
@click.option("--flower-port", type=click.IntRange(1, 65535), default=5555, show_default=True)
@click.option(
    "--flower-address",
    envvar="FLOWER_ADDRESS",
    default="127.0.0.1",
    show_default=True,
    help="Address Flower listens on; beyond 127.0.0.1 it needs FLOWER_BASIC_AUTH=user:password.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Embed processes (default: cores).")
@click.option("--data-dir", type=click.Path(path_type=Path))
def up(flower_port: int, flower_address: str, workers: int | None, data_dir: Path | None) -> None:
    """Run the local stack with Flower in the foreground until Ctrl-C.

    While it runs, `ragmill ingest` and `ragmill query` in another terminal use it.
    Flower asks for a password when FLOWER_BASIC_AUTH=user:password is set.
    """
    settings = load_settings(data_dir=data_dir.absolute() if data_dir else None)
    if running_stack(settings.data_dir) is not None:
        fail(f"a ragmill stack already runs for {settings.data_dir}")
    plan = StackPlan(
        flower_port=flower_port,
        flower_address=flower_address,
        embed_concurrency=workers or (os.cpu_count() or 1),
        # An LLM worker when one is configured, so `ingest --contextualize` can use this stack.
        llm_threads=8 if os.environ.get("LLM_BASE_URL") else 0,
    )
    stack = LocalStack(settings.data_dir, plan, mode="up")
    # SIGTERM (e.g. from a service manager) stops the stack as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        with stack_errors():
            info = stack.start(wait_for_lock=5.0)
        console.print(
            f"Redis   {info.redis_url}\nChroma  {info.chroma_url}\nFlower  {info.flower_url}"
        )
        console.print(f"Logs in {stack.logs}. Ctrl-C stops everything.")
        while all(s.alive() for s in stack.services):
            time.sleep(0.5)
        dead = [s for s in stack.services if not s.alive()]
        fail(f"{dead[0].name} stopped unexpectedly; see {dead[0].log_path}")
    except KeyboardInterrupt:
        console.print("Stopping…")
    finally:
        stack.stop()


@cli.command()
@click.argument("run_id", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.option("--data-dir", type=click.Path(path_type=Path))
def status(run_id: str | None, as_json: bool, data_dir: Path | None) -> None:
    """Show what recent ingest runs have done and what is left."""
    from pipeline.status import show_status

    settings = load_settings(data_dir=data_dir.absolute() if data_dir else None)
    with stack_errors():
        if settings.redis_url:
            show_status(connect(settings.redis_url), run_id, as_json, out)
            return
        info = running_stack(settings.data_dir)
        if info is not None:
            show_status(connect(info.redis_url), run_id, as_json, out)
            return
        if not (settings.data_dir / "redis").exists():
            fail(f"no ingest has run under {settings.data_dir} yet")
        with LocalStack(settings.data_dir, StackPlan(workers=False)) as own:
            show_status(connect(own.redis_url), run_id, as_json, out)


def main() -> None:
    cli()


def ingest_main() -> None:
    ingest_command()

from pipeline.bench.command import bench  # noqa: E402 - commands register at the end

cli.add_command(bench)

from pipeline.ask import ask  # noqa: E402 - commands register at the end
from pipeline.llm_bench import bench_llm  # noqa: E402

cli.add_command(ask)
cli.add_command(bench_llm)
