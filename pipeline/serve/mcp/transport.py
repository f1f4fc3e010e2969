"""How the MCP server is reached: stdio for a desktop client that starts it, Streamable HTTP for
agents elsewhere, under the search service's rules (pipeline/serve/access.py).

Over HTTP the endpoint is /mcp. On loopback no token is needed; with RAGMILL_SERVE_TOKEN set (and
always beyond loopback: `check_token` refuses to start without one) every request must carry
`Authorization: Bearer <token>`, else it is answered 401 before it reaches the protocol.
"""

from __future__ import annotations

import json

from mcp.server.mcpserver import MCPServer
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from pipeline.serve.access import authorized

PATH = "/mcp"
REFUSAL = "this server needs its token: Authorization: Bearer <token>"


class RequireToken:
    """ASGI middleware: every HTTP request answers 401 unless it carries `token`."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self.token is not None and scope["type"] == "http"
                and not authorized(Headers(scope=scope).get("authorization"), self.token)):
            body = json.dumps({"error": REFUSAL}).encode()
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b"Bearer"),
            ]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def serve_stdio(server: MCPServer) -> None:
    """Serve one client on stdin/stdout until it closes them (the SDK keeps stdout for the
    protocol alone: anything else printed there goes to stderr)."""
    server.run("stdio")


def serve_http(server: MCPServer, host: str, port: int, token: str | None) -> None:
    """Serve Streamable HTTP on host:port/mcp until Ctrl-C or SIGTERM."""
    import uvicorn

    # `host` lets the SDK check Host and Origin headers on loopback (DNS rebinding); beyond
    # loopback the token is the guard.
    app = server.streamable_http_app(streamable_http_path=PATH, host=host)
    uvicorn.run(RequireToken(app, token), host=host, port=port, log_level="warning")
