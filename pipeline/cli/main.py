"""The `ragmill` command line: a thin shell over library calls in pipeline/.

Each subcommand lives in pipeline/commands/; exit codes are the same for all of them
(pipeline/cli/output.py).
"""

from __future__ import annotations

import click

from pipeline.bench.command import bench
from pipeline.cli.eval_commands import eval_command
from pipeline.cli.ingest_commands import ingest_command
from pipeline.cli.library_commands import books, collections, delete
from pipeline.cli.mcp_commands import mcp_command
from pipeline.cli.read_commands import ask, query
from pipeline.cli.serve_commands import serve
from pipeline.cli.stack_commands import status, up
from pipeline.cli.sync_commands import sync_command, watch_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ragmill")
def cli() -> None:
    """ragmill: books in, searchable vectors out, on every core and every machine.

    \b
    Examples:
      ragmill ingest 1342 84 11            # Gutenberg ids
      ragmill ingest ./books/ notes/a.txt  # local files and folders
      ragmill query "a monster made by a scientist" -k 5
      ragmill eval questions.jsonl         # recall@k and MRR of the collection
      ragmill up                           # keep a local stack with Flower running
    """


for command in (ingest_command, query, ask, eval_command, up, status, bench, books, delete,
                collections, serve, mcp_command, sync_command, watch_command):
    cli.add_command(command)


def main() -> None:
    cli()


def ingest_main() -> None:
    """The plain `ingest` command: the same as `ragmill ingest`."""
    ingest_command()
