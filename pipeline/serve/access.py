"""Who may use the search service: anyone on this machine, or beyond it only with a token.

As with Flower's login: on a loopback address no token is needed (one may still be set); on any
other address `ragmill serve` refuses to start without RAGMILL_SERVE_TOKEN. The token travels as
`Authorization: Bearer <token>` and is compared in constant time. /health and the page carry no
data and need none; the page asks for the token when the API answers 401 and keeps it in the
browser tab's sessionStorage only.
"""

from __future__ import annotations

import secrets

from pipeline.errors import UsageError
from pipeline.stack.local import is_loopback

MIN_TOKEN_CHARS = 16


def check_token(token: str | None, host: str) -> str | None:
    """The token to require, or None on loopback without one; UsageError when unusable."""
    if token is not None:
        token = token.strip()
        if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
            raise UsageError(
                f"RAGMILL_SERVE_TOKEN must be at least {MIN_TOKEN_CHARS} characters without "
                "spaces; make one with `python -c 'import secrets; print(secrets.token_urlsafe())'`"
            )
        return token
    if not is_loopback(host):
        raise UsageError(
            f"the search service would listen on {host or 'every address'} without a token; "
            "set RAGMILL_SERVE_TOKEN or use --host 127.0.0.1"
        )
    return None


def authorized(header: str | None, token: str | None) -> bool:
    """Whether an Authorization header carries `token` (always, when no token is required)."""
    if token is None:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(),
                                                                  token.encode())
