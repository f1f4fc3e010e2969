"""`ragmill sync` and `ragmill watch`: keep a collection in step with folders of books."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from pipeline.cli.output import console, load_settings, one_line_errors, out, sigterm_as_interrupt
from pipeline.ingest.progress_bar import ProgressView
from pipeline.ingest.sync import SyncResult, sync
from pipeline.ingest.sync_plan import check_folders
from pipeline.ingest.watch import watch
from pipeline.stack.cluster import find_cluster

INTERRUPTED = 130
# Names listed per kind of change in the text summary; --json lists them all.
SHOWN = 20


def common_options(func: Any) -> Any:
    options = [
        click.argument("folders", nargs=-1),
        click.option("--collection", envvar="RAGMILL_COLLECTION",
                     help="Chroma collection (default: ragmill)."),
        click.option("--data-dir", type=click.Path(path_type=Path),
                     help="Where the local stack keeps its data (default ./data)."),
        click.option("--workers", type=click.IntRange(min=1),
                     help="Embed processes of a private stack (default: cores)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command(name="sync")
@common_options
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def sync_command(
    folders: tuple[str, ...], collection: str | None, data_dir: Path | None,
    workers: int | None, dry_run: bool, as_json: bool, no_progress: bool,
) -> None:
    """Make the collection hold exactly what FOLDERS hold now.

    \b
    New files are added, changed ones replaced, deleted ones removed and moved or renamed ones
    re-pointed without embedding; only text never embedded before goes to the model. Gutenberg
    ids, URLs and other folders in the collection are left alone.
      ragmill sync ./library/ --dry-run
      ragmill sync ./library/ ./notes/
    """
    sigterm_as_interrupt()
    settings = load_settings(data_dir, collection=collection)
    with one_line_errors():
        check_folders(folders)  # a bad folder is one line before any stack starts
        found = find_cluster(settings)
        if found.needs_private_stack and not dry_run:
            console.print(f"Starting a private stack under {settings.data_dir}…")
        try:
            with ProgressView(console, enabled=not no_progress and console.is_terminal) as view:
                result = sync(list(folders), settings, dry_run_only=dry_run, workers=workers,
                              cluster=found, on_progress=view.update)
        except KeyboardInterrupt:
            console.print("Interrupted before anything was changed. Run the same command again.")
            sys.exit(INTERRUPTED)
    print_result(result)
    if as_json:
        out.print_json(json.dumps(result.as_dict()))
    if result.interrupted:
        sys.exit(INTERRUPTED)
    sys.exit(0 if result.ok else 1)


def print_result(result: SyncResult) -> None:
    """The summary line, the files of each kind of change, and one line per failure."""
    console.print(result.line(), highlight=False, markup=False)
    plan = result.plan
    kinds = {
        "added": [f.label for f in plan.added],
        "changed": [f.label for f in plan.changed],
        "moved": [f"{m.old.label} -> {m.new.label}" for m in plan.moved],
        "removed": [s.label for s in plan.removed],
    }
    for kind, names in kinds.items():
        if names:
            more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
            console.print(f"  {kind}: {', '.join(names[:SHOWN])}{more}",
                          highlight=False, markup=False)
    for label in result.kept:
        console.print(f"  kept: {label} (it exists again)", highlight=False, markup=False)
    for label, reason in result.failures.items():
        line = reason if label in reason else f"{label}: {reason}"
        console.print(f"[red]failed:[/] {line}", highlight=False)
    if result.interrupted:
        console.print("Run the same command again to finish; nothing was removed.")


@click.command(name="watch")
@common_options
@click.option("--quiet", "quiet_seconds", type=click.FloatRange(min=0.1), default=2.0,
              show_default=True, help="Seconds without changes before a sync runs.")
def watch_command(
    folders: tuple[str, ...], collection: str | None, data_dir: Path | None,
    workers: int | None, quiet_seconds: float,
) -> None:
    """Keep the collection in step with FOLDERS until Ctrl-C or SIGTERM.

    \b
    Syncs once at start, then once after every burst of changes has been quiet for --quiet
    seconds, printing one line per sync.
      ragmill watch ./library/ --quiet 5
    """
    sigterm_as_interrupt()
    settings = load_settings(data_dir, collection=collection)

    def report(result: SyncResult) -> None:
        out.print(f"{time.strftime('%H:%M:%S')} {result.line()}", highlight=False, markup=False)
        for label, reason in result.failures.items():
            line = reason if label in reason else f"{label}: {reason}"
            console.print(f"[red]failed:[/] {line}", highlight=False)

    # Ctrl-C and SIGTERM are how a watch ends.
    with one_line_errors(), contextlib.suppress(KeyboardInterrupt):
        watch(list(folders), settings, quiet_seconds=quiet_seconds, on_result=report,
              on_notice=lambda line: console.print(line, highlight=False, markup=False),
              workers=workers)
    console.print("Stopped watching.")
    sys.exit(INTERRUPTED)
