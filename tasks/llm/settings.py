"""LLM settings from the environment, parsed once; nonsense fails here, naming the variable.

Every process of a cluster must agree on the limit, so workers read the same LLM_* variables as
the CLI. `LLM_RPM` and `LLM_TPM` are the requests and tokens admitted per window of
`LLM_WINDOW_SECONDS` (60 by default, so per minute).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from tasks.settings import SettingsError

Num = TypeVar("Num", int, float)


@dataclass(frozen=True, kw_only=True)
class LLMSettings:
    """Where the OpenAI-compatible endpoint is, and how much of it ragmill may use."""

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    rpm: int = 60
    tpm: int = 100_000
    window_seconds: float = 60.0
    timeout: float = 60.0
    connect_timeout: float = 5.0
    max_retries: int = 4
    max_tokens: int = 200
    # How long one task may keep its message while it waits for the limit; past this a
    # contextualize task hands the rest of its batch to a fresh message (see tasks.py).
    task_budget_seconds: float = 600.0
    limit_name: str | None = None

    @property
    def configured(self) -> bool:
        return self.base_url is not None and self.model is not None

    @property
    def limit_key(self) -> str:
        """The name the shared limit is kept under: one per endpoint and model unless set."""
        if self.limit_name:
            return self.limit_name
        digest = hashlib.sha1(f"{self.base_url}|{self.model}".encode()).hexdigest()[:16]
        return digest

    @property
    def chat_url(self) -> str:
        assert self.base_url is not None
        return self.base_url.rstrip("/") + "/chat/completions"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMSettings:
        """Read LLM_* from `env` (default: os.environ); raise SettingsError on nonsense."""
        env = os.environ if env is None else env
        d = cls()
        settings = cls(
            base_url=env.get("LLM_BASE_URL") or None,
            model=env.get("LLM_MODEL") or None,
            api_key=env.get("LLM_API_KEY") or None,
            rpm=_number(env, "LLM_RPM", d.rpm, int),
            tpm=_number(env, "LLM_TPM", d.tpm, int),
            window_seconds=_number(env, "LLM_WINDOW_SECONDS", d.window_seconds, float),
            timeout=_number(env, "LLM_TIMEOUT", d.timeout, float),
            connect_timeout=_number(env, "LLM_CONNECT_TIMEOUT", d.connect_timeout, float),
            max_retries=_number(env, "LLM_MAX_RETRIES", d.max_retries, int, allow_zero=True),
            max_tokens=_number(env, "LLM_MAX_TOKENS", d.max_tokens, int),
            task_budget_seconds=_number(
                env, "LLM_TASK_BUDGET_SECONDS", d.task_budget_seconds, float
            ),
            limit_name=env.get("LLM_LIMIT_NAME") or None,
        )
        return settings.validated()

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


def _number(
    env: Mapping[str, str],
    name: str,
    default: Num,
    kind: Callable[[str], Num],
    *,
    allow_zero: bool = False,
) -> Num:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        word = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{name}={raw!r} is not {word}") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name}={raw!r} is not a finite number")
    if value < 0 or (value == 0 and not allow_zero):
        raise SettingsError(
            f"{name}={raw!r} must be {'at least 0' if allow_zero else 'greater than 0'}"
        )
    return value
