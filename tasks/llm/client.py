"""One chat completion from an OpenAI-compatible endpoint over requests, errors sorted by kind.

OpenAI, vLLM, Ollama and llama.cpp's server all answer POST <base>/chat/completions with
{"choices": [{"message": {"content": ...}}], "usage": {"prompt_tokens", "completion_tokens"}}.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from tasks.endpoint.http import EndpointSession, ErrorKinds
from tasks.llm.errors import (
    NO_LLM,
    LLMNotConfigured,
    LLMRequestRejected,
    MalformedReply,
    RateLimited,
    TransientLLMError,
)
from tasks.settings import LLMSettings

Message = Mapping[str, str]
CHAT_ERRORS = ErrorKinds(rate_limited=RateLimited, transient=TransientLLMError)
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


class ChatClient:
    """Sends chat completions to one endpoint; one per thread (a requests.Session is not shared)."""

    def __init__(self, settings: LLMSettings, session: requests.Session | None = None) -> None:
        if not settings.configured:
            raise LLMNotConfigured(NO_LLM)
        self.settings = settings
        self.http = EndpointSession(settings.api_key, CHAT_ERRORS, session)

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
        response = self.http.post(
            url, body, timeout=(self.settings.connect_timeout, self.settings.timeout)
        )
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
