"""The search service: the HTTP API and page of `ragmill serve` over one Chroma server.

    app.py      the FastAPI application: /api/search, /api/ask, /api/books, /health, the page
    access.py   who may ask: loopback, or a bearer token (RAGMILL_SERVE_TOKEN) beyond it
    client.py   the CLI's client of a running service
    mcp/        `ragmill mcp`: the library's tools over the Model Context Protocol (docs/mcp.md)
    static/     the page: plain HTML and a little JavaScript, no build step

May import search/, stack/ and errors.py; never cli/.
"""
