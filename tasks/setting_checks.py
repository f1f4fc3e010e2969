"""The checks a setting's value must pass (URLs, logins), and the error every bad setting raises.

They stand apart from tasks/settings.py so that code which only reads an address (the store,
the broker client) does not need the whole settings module.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tasks.errors import TaskError


class SettingsError(TaskError, ValueError):
    """An environment variable or option holds a value ragmill cannot use."""


def check_basic_auth(value: str) -> str:
    """Accept FLOWER_BASIC_AUTH's user:password[,user2:password2]; else a SettingsError."""
    if any(":" not in pair or pair.startswith(":") for pair in value.split(",")):
        raise SettingsError(
            "FLOWER_BASIC_AUTH must look like user:password (several joined by commas)"
        )
    return value


def check_redis_url(url: str) -> str:
    """Accept redis://, rediss:// and unix:// URLs; anything else is a SettingsError."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix") or (
        parts.scheme != "unix" and not parts.hostname
    ):
        raise SettingsError(
            f"REDIS_URL={mask_url(url)!r} is not a Redis URL; expected redis://host:6379/0"
        )
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise SettingsError(f"REDIS_URL={mask_url(url)!r} has a bad port: {exc}") from None
    return url


def chroma_address(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of a CHROMA_URL such as http://127.0.0.1:8000."""
    check_http_url("CHROMA_URL", url)
    parts = urlsplit(url)
    ssl = parts.scheme == "https"
    try:
        port = parts.port or (443 if ssl else 8000)
    except ValueError as exc:
        raise SettingsError(f"CHROMA_URL={url!r} has a bad port: {exc}") from None
    return parts.hostname or "127.0.0.1", port, ssl


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, safe to print and log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def check_http_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{name}={url!r} is not an http(s) URL")
