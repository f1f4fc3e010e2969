"""`ragmill mcp`: the library over the Model Context Protocol, for assistants and agents."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.output import console, load_settings, one_line_errors
from pipeline.cli.read_commands import collection_option, data_dir_option
from pipeline.cli.serve_commands import served_library
from pipeline.serve.access import check_token
from pipeline.stack.collection import chroma_for

# Beside the search service's 8900, so both can run.
DEFAULT_PORT = 8901


@click.command("mcp")
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio",
              show_default=True,
              help="stdio for a client that starts the server; http (Streamable HTTP) for "
                   "agents that connect to it.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (http); beyond loopback it needs RAGMILL_SERVE_TOKEN.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port to listen on (http).")
@data_dir_option
@collection_option
def mcp_command(transport: str, host: str, port: int, data_dir: Path | None,
                collection: str | None) -> None:
    """Serve the library to assistants and agents over MCP: search, read, list, ask.

    The tools, a desktop client's configuration and an example session are in docs/mcp.md.

    \b
      ragmill mcp                              # stdio, as a desktop client starts it
      ragmill mcp --transport http             # http://127.0.0.1:8901/mcp
      RAGMILL_SERVE_TOKEN=... ragmill mcp --transport http --host 0.0.0.0
    """
    from pipeline.serve.mcp.tools import create_server
    from pipeline.serve.mcp.transport import PATH, serve_http, serve_stdio

    settings = load_settings(data_dir, collection=collection)
    with one_line_errors():
        # The search service's rule: beyond loopback only with its token (stdio has no address).
        token = check_token(settings.serve_token, host) if transport == "http" else None
        with chroma_for(settings) as reachable:
            library = served_library(reachable, "its tools answer that")
            server = create_server(library)
            if transport == "stdio":
                serve_stdio(server)
                return
            console.print(f"Serving {library.collection} over MCP on "
                          f"http://{host}:{port}{PATH} (Ctrl-C stops)")
            serve_http(server, host, port, token)
