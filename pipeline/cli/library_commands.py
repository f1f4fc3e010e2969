"""`ragmill books`, `ragmill delete` and `ragmill collections`: what a collection holds."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from pipeline.cli.output import console, load_settings, one_line_errors, out
from pipeline.cli.read_commands import collection_option, data_dir_option
from pipeline.search.library import Library
from pipeline.stack.collection import chroma_for


@contextmanager
def open_library(data_dir: Path | None, collection: str | None) -> Iterator[Library]:
    settings = load_settings(data_dir, collection=collection)
    with one_line_errors(), chroma_for(settings) as reachable:
        yield Library(settings=reachable)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the books as JSON.")
@data_dir_option
@collection_option
def books(as_json: bool, data_dir: Path | None, collection: str | None) -> None:
    """List the collection's books: id, title, author, language, chunks, source, ingested.

    "ingested" is when the book's newest chunk was written (UTC); chunks stored by ragmill
    versions that did not record it show "-".
    """
    with open_library(data_dir, collection) as library:
        found = library.books()
    if as_json:
        out.print_json(json.dumps([b.as_dict() for b in found]))
        return
    if not found:
        console.print(f"Collection {library.collection} holds no books.")
        return
    table = Table("book", "title", "author", "lang", "chunks", "source", "ingested (UTC)",
                  box=None, pad_edge=False)
    for b in found:
        table.add_row(*(escape(v) for v in (b.book_id, b.title, b.author, b.language,
                                            str(b.chunks), b.source, b.ingested_at or "-")))
    out.print(table)


@click.command()
@click.argument("book_ids", metavar="BOOK...", nargs=-1, required=True)
@data_dir_option
@collection_option
def delete(book_ids: tuple[str, ...], data_dir: Path | None, collection: str | None) -> None:
    """Remove the chunks of each BOOK (ids as `ragmill books` shows them), and nothing else.

    Exits 1 when any id matched no book (one line each); the others are removed all the same.

    \b
      ragmill delete 84 1342
    """
    with open_library(data_dir, collection) as library:
        deleted = library.delete(*book_ids)
    for book_id, chunks in deleted.chunks.items():
        out.print(f"deleted book {escape(book_id)}: {chunks} chunks")
    for book_id in deleted.unknown:
        console.print(f"[red]error:[/] book {escape(book_id)} is not in collection "
                      f"{library.collection}; `ragmill books` lists its books")
    sys.exit(1 if deleted.unknown else 0)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the collections as JSON.")
@data_dir_option
def collections(as_json: bool, data_dir: Path | None) -> None:
    """List the Chroma server's collections, their chunks and the model that made them.

    The model shows as "unrecorded" for collections written before ragmill recorded it.
    """
    with open_library(data_dir, None) as library:
        found = library.collections()
    if as_json:
        out.print_json(json.dumps([c.as_dict() for c in found]))
        return
    table = Table("collection", "chunks", "model", "backend", box=None, pad_edge=False)
    for c in found:
        table.add_row(escape(c.name), str(c.chunks), escape(c.model), escape(c.backend))
    out.print(table)
