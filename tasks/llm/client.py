"""One chat completion from an OpenAI-compatible endpoint over requests, errors sorted by kind.

OpenAI, vLLM, Ollama and llama.cpp's server all answer POST <base>/chat/completions with
{"choices": [{"message": {"content": ...}}], "usage": {"prompt_tokens", "completion_tokens"}}.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from tasks.llm.errors import (
    LLMNotConfigured,
    LLMRequestRejected,
    MalformedReply,
    RateLimited,
    TransientLLMError,
)
from tasks.settings import LLMSettings

Message = Mapping[str, str]
# Chat formats wrap each message in a few tokens of their own (role markers, separators).
TOKENS_PER_MESSAGE = 4
TOKENS_PER_REPLY = 3


@dataclass(frozen=True)
class Reply:
    """The text of a chat completion and the tokens it cost (None where the endpoint is silent)."""

    text: str
    prompt_tokens: int | None
    completion_tokens: int | None

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens + self.completion_tokens


def reserve_tokens(messages: Sequence[Message], max_tokens: int) -> int:
    """Tokens to reserve before sending: a bound the real count cannot exceed.

    A byte-level tokenizer never makes more tokens than the text has UTF-8 bytes, and the reply is
    capped at `max_tokens`; the reply's `usage` replaces this bound once it arrives.
    """
    prompt = sum(len(m["content"].encode("utf-8")) + TOKENS_PER_MESSAGE for m in messages)
    return prompt + TOKENS_PER_REPLY + max_tokens


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds a 429 asks us to wait: `retry-after-ms`, or `Retry-After` as seconds or HTTP date."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            ms = float(raw_ms)
            if math.isfinite(ms) and ms >= 0:
                return ms / 1000.0
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class ChatClient:
    """Sends chat completions to one endpoint; one per thread (a requests.Session is not shared)."""

    def __init__(self, settings: LLMSettings, session: requests.Session | None = None) -> None:
        if not settings.configured:
            raise LLMNotConfigured(
                "no LLM is configured; set LLM_BASE_URL (e.g. http://127.0.0.1:8080/v1) "
                "and LLM_MODEL"
            )
        self.settings = settings
        self.session = session or requests.Session()
        if settings.api_key:
            self.session.headers["Authorization"] = f"Bearer {settings.api_key}"

    def chat(self, messages: Sequence[Message], *, max_tokens: int | None = None) -> Reply:
        """One completion; raises RateLimited, TransientLLMError, LLMRequestRejected or
        MalformedReply (see tasks.llm.errors)."""
        url = self.settings.chat_url
        body = {
            "model": self.settings.model,
            "messages": [dict(m) for m in messages],
            "max_tokens": max_tokens or self.settings.max_tokens,
            "temperature": 0,
        }
        try:
            response = self.session.post(
                url, json=body, timeout=(self.settings.connect_timeout, self.settings.timeout)
            )
        except requests.Timeout as exc:
            raise TransientLLMError(f"{url}: no reply within the timeout ({exc})") from None
        except requests.ConnectionError as exc:
            raise TransientLLMError(f"{url}: connection failed ({exc})") from None
        if response.status_code == 429:
            wait = retry_after(response.headers)
            raise RateLimited(
                f"{url}: 429 rate limited"
                + (f", retry after {wait:.2f} s" if wait is not None else ""),
                wait if wait is not None else -1.0,
            )
        if response.status_code >= 500:
            raise TransientLLMError(f"{url}: server error {response.status_code}")
        if response.status_code >= 400:
            raise LLMRequestRejected(
                f"{url}: the endpoint refused the request with {response.status_code}: "
                f"{response.text[:200]!r}; check LLM_MODEL and LLM_API_KEY"
            )
        return parse_reply(url, response.text)


def parse_reply(url: str, text: str) -> Reply:
    """The Reply in a chat completion body, or MalformedReply saying what is wrong with it."""
    try:
        data: Any = json.loads(text)
    except ValueError:
        raise MalformedReply(
            f"{url}: the reply is not JSON (starts with {text[:80]!r}); is LLM_BASE_URL an "
            "OpenAI-compatible /v1 endpoint?"
        ) from None
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise MalformedReply(
            f"{url}: the reply has no choices[0].message.content (starts with {text[:80]!r})"
        ) from None
    if not isinstance(content, str):
        raise MalformedReply(f"{url}: choices[0].message.content is not text: {content!r}")
    usage = data.get("usage") if isinstance(data, dict) else None
    prompt = completion = None
    if isinstance(usage, dict):
        p, c = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if isinstance(p, int) and isinstance(c, int) and p >= 0 and c >= 0:
            prompt, completion = p, c
    return Reply(content, prompt, completion)
