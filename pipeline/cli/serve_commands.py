"""`ragmill serve`: the search service (HTTP API and page) over one collection."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.output import console, load_settings, one_line_errors
from pipeline.cli.read_commands import collection_option, data_dir_option
from pipeline.search.library import Library, UnknownCollection
from pipeline.serve.access import check_token
from pipeline.stack.collection import chroma_for
from pipeline.stack.service import DEFAULT_PORT
from tasks.settings import Settings

# Room for a long question in the URL, so its length is refused by the API in one line of
# JSON rather than by the HTTP parser: h11, whose limit can be raised (httptools' cannot).
MAX_REQUEST_BYTES = 1 << 20


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; beyond loopback it needs RAGMILL_SERVE_TOKEN.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@data_dir_option
@collection_option
def serve(host: str, port: int, data_dir: Path | None, collection: str | None) -> None:
    """Serve search and answers over HTTP, with a page, until Ctrl-C.

    The model loads once; /health answers 200 when it has. The API and the page are described
    in docs/search.md; the OpenAPI page is at /docs.

    \b
      ragmill serve                      # http://127.0.0.1:8900
      RAGMILL_SERVE_TOKEN=... ragmill serve --host 0.0.0.0
    """
    import uvicorn

    from pipeline.serve.app import create_app
    from tasks.embedding import limit_compute_threads

    # One compute thread per encode: concurrent questions are encoded together in one run
    # (pipeline/search/query_batching.py) while the other cores serve HTTP and Chroma; measured in
    # docs/search.md "Speed".
    limit_compute_threads(1)

    settings = load_settings(data_dir, collection=collection)
    with one_line_errors():
        token = check_token(settings.serve_token, host)
        with chroma_for(settings) as reachable:
            library = served_library(reachable, "searches answer 404")
            console.print(f"Loading the model; then serving {library.collection} on "
                          f"http://{host}:{port} (Ctrl-C stops)")
            uvicorn.run(create_app(library, token=token), host=host, port=port,
                        log_level="warning", http="h11",
                        h11_max_incomplete_event_size=MAX_REQUEST_BYTES)


def served_library(settings: Settings, meanwhile: str) -> Library:
    """The Library a long-lived server answers from; a collection not made yet is a warning
    (`meanwhile` says what its clients get until an ingest creates it), not a refusal."""
    library = Library(settings=settings)
    try:
        library.store  # noqa: B018 - the check is the point
    except UnknownCollection:
        console.print(f"[yellow]warning:[/] collection {library.collection} does not exist "
                      f"yet; {meanwhile} until an ingest creates it")
    return library
