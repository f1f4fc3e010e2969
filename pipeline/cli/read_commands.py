"""`ragmill query` and `ragmill ask`: questions to the stored books."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from pipeline.cli.output import (
    console,
    fail,
    load_settings,
    one_line_errors,
    out,
    print_passages,
)
from pipeline.search.answers import answer_question, make_chat
from pipeline.search.filters import FIELDS, Filters
from pipeline.search.keyword import DEFAULT_MODE, MODES, check_mode
from pipeline.search.library import Library
from pipeline.search.query import Result
from pipeline.serve.client import running_service
from pipeline.stack.cluster import find_cluster
from pipeline.stack.collection import chroma_for
from tasks.settings import Settings

NOTHING_STORED = "No chunks stored yet; run `ragmill ingest` first."

data_dir_option = click.option(
    "--data-dir", type=click.Path(path_type=Path), help="The local stack's data (default ./data)."
)
collection_option = click.option(
    "--collection", envvar="RAGMILL_COLLECTION", help="Chroma collection (default: ragmill)."
)
# A plain string checked by check_mode, so a wrong value is one line like every other mistake.
mode_option = click.option(
    "--mode", default=DEFAULT_MODE, show_default=True, metavar="|".join(MODES),
    help="Search by meaning, by keyword (BM25) or both fused (docs/search.md).",
)


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--book, --author, --language, --title, --chapter (each repeatable) and --where."""
    for name in reversed(FIELDS):
        command = click.option(
            f"--{name}", multiple=True, metavar=name.upper(),
            help=f"Only chunks whose {'book id' if name == 'book' else name} is this "
            "(repeat for any of several).",
        )(command)
    return click.option(
        "--where", metavar="JSON",
        help='A Chroma metadata filter, e.g. \'{"position": {"$lt": 10}}\'.',
    )(command)


def question_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """What every command that asks a question takes: --data-dir, --collection, --mode and the
    filters."""
    for option in (filter_options, mode_option, collection_option, data_dir_option):
        command = option(command)
    return command


def retrieve(settings: Settings, text: str, k: int, filters: dict[str, Any],
             mode: str = DEFAULT_MODE) -> list[Result]:
    """The search of `query` and `ask`: through `ragmill up`'s search service when it serves
    this collection with this model (no model loads here), else through a `Library` of this
    process's own: the same path the Python API and the service take. A collection that does
    not exist is one line naming those that do (UnknownCollection, exit 2), and none is made."""
    with one_line_errors():
        check_mode(mode)
        chosen = Filters.from_values(**filters)
        cluster = find_cluster(settings)
        service = running_service(settings, cluster)
        found = service.search(text, k, chosen, mode) if service is not None else None
        if found is not None:
            return found
        # Searching here: a question embedded through an endpoint joins the stack's limit.
        settings = settings.with_changes(redis_url=cluster.redis_url)
        with chroma_for(settings, cluster) as reachable:
            return Library(settings=reachable).search(text, k, mode=mode, **filters)


@click.command()
@click.argument("text")
@click.option("-k", "k", type=click.IntRange(min=1, max=1000), default=5, show_default=True,
              help="How many chunks to return.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@question_options
def query(text: str, k: int, as_json: bool, data_dir: Path | None, collection: str | None,
          mode: str, **filters: Any) -> None:
    """Find the stored chunks closest in meaning to TEXT (or sharing its words: --mode).

    Exits 1 when nothing is found (with --json too, after printing []).

    \b
      ragmill query "a monster made by a scientist" -k 5
      ragmill query "a proposal of marriage" --book 1342 --book 84
      ragmill query "the sea" --language en --where '{"position": {"$lt": 50}}'
      ragmill query "Queequeg" --mode keyword
    """
    results = retrieve(load_settings(data_dir, collection=collection), text, k, filters, mode)
    if as_json:
        out.print_json(json.dumps([r.as_dict() for r in results]))
    elif not results:
        console.print(NOTHING_STORED)
    for r in [] if as_json else results:
        out.print(
            f"[bold]{r.rank}. score {r.score:.3f}[/]  {escape(r.place)}  {escape(r.title)}"
            f"{' — ' + escape(r.author) if r.author else ''}  (chunk {r.position})"
        )
        out.print(r.text.strip(), markup=False)
        out.print()
    sys.exit(0 if results else 1)


@click.command()
@click.argument("question")
@click.option("-k", "k", type=click.IntRange(1, 50), default=5, show_default=True,
              help="How many chunks to retrieve and give the LLM.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer and sources as JSON.")
@question_options
def ask(question: str, k: int, as_json: bool, data_dir: Path | None,
        collection: str | None, mode: str, **filters: Any) -> None:
    """Answer QUESTION from the stored books with the LLM, citing [book id:chunk].

    \b
      ragmill ask "Who is Victor Frankenstein's friend?" -k 5

    Needs LLM_BASE_URL and LLM_MODEL; without them it prints the closest passages.
    """
    from tasks.endpoint.errors import EndpointError
    from tasks.llm.errors import NO_LLM

    settings = load_settings(data_dir, collection=collection)
    results = retrieve(settings, question, k, filters, mode)
    if not results:
        fail("no chunks stored yet; run `ragmill ingest` first")
    if not settings.llm.configured:
        console.print(f"{NO_LLM}; the closest passages are:")
        if as_json:
            out.print_json(json.dumps({"question": question, "answer": None,
                                       "sources": [r.as_dict() for r in results]}))
        else:
            print_passages(results)
        return
    try:
        result = answer_question(question, results, make_chat(settings.llm, settings))
    except EndpointError as exc:  # the chat endpoint, or its shared limit
        fail(f"the LLM could not answer: {exc}")
    if as_json:
        out.print_json(json.dumps(result.as_dict()))
        return
    out.print(result.text or "", markup=False, highlight=False)
    out.print()
    if result.cited:
        out.print("[bold]Sources[/]")
        print_passages(result.cited)
    else:
        console.print("The answer cites none of the retrieved passages.")
    if result.unknown:
        console.print(f"[yellow]warning:[/] the answer cites passages that were not retrieved: "
                      f"{', '.join(result.unknown)}")
