"""The OpenAI-compatible client against the local test server: replies, errors, Retry-After."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from tasks.endpoint.http import retry_after
from tasks.llm.client import ChatClient, reserve_tokens
from tasks.llm.errors import (
    LLMNotConfigured,
    LLMRequestRejected,
    MalformedReply,
    RateLimited,
    TransientLLMError,
)
from tasks.settings import LLMSettings
from tests.support.chat_server import LLMServer

HELLO = [{"role": "user", "content": "Who is Victor Frankenstein's friend?"}]


def client_for(server: LLMServer, **changes: object) -> ChatClient:
    settings = LLMSettings(base_url=server.url, model="test-model", **changes)  # type: ignore[arg-type]
    return ChatClient(settings.validated())


def test_a_reply_gives_its_text_and_usage(llm_server: LLMServer) -> None:
    reply = client_for(llm_server).chat(HELLO, max_tokens=50)
    assert reply.text.startswith("Context:")
    assert reply.prompt_tokens is not None and reply.prompt_tokens > 0
    assert reply.total_tokens == llm_server.log[-1].tokens
    assert reply.total_tokens <= reserve_tokens(HELLO, 50)


@pytest.mark.parametrize("kind", ["429", "429-ms", "429-date"])
def test_429_says_how_long_to_wait_in_each_header_form(llm_server: LLMServer, kind: str) -> None:
    llm_server.fail_next(1, kind, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        client_for(llm_server).chat(HELLO)
    assert caught.value.wait == pytest.approx(7, abs=1.1)


def test_500_and_connection_errors_are_transient(llm_server: LLMServer) -> None:
    llm_server.fail_next(1, "500")
    with pytest.raises(TransientLLMError, match="500"):
        client_for(llm_server).chat(HELLO)
    dead = LLMSettings(base_url="http://127.0.0.1:9/v1", model="m", connect_timeout=1)
    with pytest.raises(TransientLLMError, match="connection failed"):
        ChatClient(dead).chat(HELLO)


def test_a_slow_reply_is_a_transient_timeout(llm_server: LLMServer) -> None:
    llm_server.latency = 1.5
    with pytest.raises(TransientLLMError, match="timeout"):
        client_for(llm_server, timeout=0.5).chat(HELLO)


@pytest.mark.parametrize(("kind", "says"), [("bad-json", "not JSON"), ("no-choices", "choices")])
def test_a_malformed_reply_is_a_clear_error(llm_server: LLMServer, kind: str, says: str) -> None:
    llm_server.fail_next(1, kind)
    with pytest.raises(MalformedReply, match=says) as caught:
        client_for(llm_server).chat(HELLO)
    assert llm_server.url in str(caught.value)


def test_a_wrong_path_is_refused_not_retried(llm_server: LLMServer) -> None:
    settings = LLMSettings(base_url=llm_server.url.removesuffix("/v1"), model="m")
    with pytest.raises(LLMRequestRejected, match="404"):
        ChatClient(settings).chat(HELLO)


def test_no_endpoint_configured_says_which_variables_to_set() -> None:
    with pytest.raises(LLMNotConfigured, match="LLM_BASE_URL"):
        ChatClient(LLMSettings())


def test_retry_after_reads_seconds_dates_and_milliseconds() -> None:
    now = time.time()
    assert retry_after({"Retry-After": "3"}) == 3.0
    assert retry_after({"retry-after-ms": "250", "Retry-After": "3"}) == 0.25
    assert retry_after({"Retry-After": formatdate(now + 10, usegmt=True)}, now) == pytest.approx(
        10, abs=1
    )
    assert retry_after({"Retry-After": formatdate(now - 10, usegmt=True)}, now) == 0.0
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None
