"""`ragmill ingest` (also installed as plain `ingest`): options in, a report out."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from pipeline.cli.output import (
    console,
    load_settings,
    one_line_errors,
    out,
    sigterm_as_interrupt,
)
from pipeline.errors import UsageError
from pipeline.ingest.progress_bar import EndpointLimit, ProgressView, print_summary
from pipeline.ingest.run import IngestRequest, ingest, stack_plan
from pipeline.ingest.submission import CatalogChoice
from pipeline.stack.cluster import find_cluster
from tasks.settings import GUTENBERG_EDITIONS

INTERRUPTED = 130


def _count_option(name: str, least: int, help: str) -> Any:
    """An option taking a whole number of at least `least`."""
    return click.option(name, type=click.IntRange(min=least), help=help)


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
        _count_option("--limit", 1, "With --catalog: at most this many books."),
        click.option("--mirror", envvar="GUTENBERG_MIRROR", help="Gutenberg mirror base URL."),
        click.option(
            "--gutenberg-edition",
            type=click.Choice(GUTENBERG_EDITIONS),
            envvar="RAGMILL_GUTENBERG_EDITION",
            help="Edition of Gutenberg ids to download: txt (default), epub or html.",
        ),
        _count_option("--chunk-tokens", 16, "Largest chunk, in model tokens."),
        _count_option("--chunk-overlap", 0, "Tokens shared by neighbouring chunks."),
        _count_option("--books-in-flight", 1, "Books submitted but not yet landed, at most."),
        _count_option(
            "--chunks-in-flight",
            1,
            "Chunks queued but not yet stored before another book is submitted.",
        ),
        _count_option("--workers", 1, "Embed processes of a private stack (default: cores)."),
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
@click.command(name="ingest")
@ingest_options
def ingest_command(**kwargs: Any) -> None:
    """Download, chunk, embed and store books.

    \b
    INPUTS are Gutenberg ids, files, folders (every document inside) and http(s) URLs:
      ragmill ingest 1342 84 11
      ragmill ingest ./books/ ./notes/a.txt https://host/b.txt
      ragmill ingest --catalog --language en --limit 200
    """
    run(**kwargs)


def print_skipped(skipped: tuple[str, ...], shown: int = 20) -> None:
    """One line naming the files of the folders that are not documents (the first `shown`)."""
    if not skipped:
        return
    more = len(skipped) - shown
    names = ", ".join(skipped[:shown]) + (f" and {more} more" if more > 0 else "")
    console.print(
        f"Skipped (not documents): {len(skipped)} file{'s' if len(skipped) > 1 else ''}: {names}",
        highlight=False, markup=False,
    )


def run(
    inputs: tuple[str, ...],
    catalog: str | None,
    language: str | None,
    limit: int | None,
    workers: int | None,
    fail_fast: bool,
    as_json: bool,
    no_progress: bool,
    contextualize: bool,
    data_dir: Path | None,
    **overrides: Any,
) -> None:
    """Ingest with the options of the command line; exits with the run's code."""
    sigterm_as_interrupt()
    settings = load_settings(data_dir, **overrides)
    request = IngestRequest(
        inputs=inputs,
        catalog=None
        if catalog is None
        else CatalogChoice(location=catalog or None, language=language, limit=limit),
        fail_fast=fail_fast,
        contextualize=contextualize,
        workers=workers,
    )
    with one_line_errors():
        if (language or limit) and catalog is None:
            raise UsageError("--language and --limit pick books from a catalog; add --catalog")
        request.check(settings)
        found = find_cluster(settings)
        if found.needs_private_stack:
            plan = stack_plan(request, settings)
            console.print(
                f"Starting a private stack under {settings.data_dir} "
                f"(redis-server, Chroma, io and {plan.embed_concurrency} embed workers"
                f"{', an llm worker' if plan.llm_threads else ''})…"
            )
        try:
            with ProgressView(
                console, enabled=not no_progress and console.is_terminal,
                embed_limit=EndpointLimit.of(settings),
            ) as view:
                result = ingest(
                    request,
                    settings,
                    on_progress=view.update,
                    on_warning=lambda w: console.print(f"[yellow]warning:[/] {w}"),
                    on_notice=lambda n: console.print(n, markup=False),
                    cluster=found,
                )
        except KeyboardInterrupt:
            # Stopped while the cluster started, before any book was submitted.
            console.print("Interrupted before any book was submitted. Run the same command again.")
            sys.exit(INTERRUPTED)
    result = replace(result, report=replace(result.report, embed_limit=EndpointLimit.of(settings)))
    print_summary(console, result.report)
    print_skipped(result.skipped)
    if as_json:
        out.print_json(json.dumps(result.as_dict()))
    if result.report.interrupted:
        sys.exit(INTERRUPTED)
    sys.exit(0 if result.report.ok else 1)
