"""Admission, retries and pauses around one call, with a real redis-server and the test server."""

from __future__ import annotations

import time

import pytest
import redis

from tasks.llm.caller import LLMCaller
from tasks.llm.client import ChatClient
from tasks.llm.engine import make_limiter
from tasks.llm.errors import MalformedReply, TransientLLMError
from tasks.settings import LLMSettings
from tests.support.chat_server import LLMServer

HELLO = [{"role": "user", "content": "hello"}]


def caller_for(server: LLMServer, client: redis.Redis, **changes: object) -> LLMCaller:
    settings = LLMSettings(
        base_url=server.url, model="m", timeout=2, **changes  # type: ignore[arg-type]
    ).validated()
    return LLMCaller(settings, make_limiter(settings, client), ChatClient(settings))


def test_500s_are_retried_with_backoff_until_one_succeeds(
    llm_server: LLMServer, redis_client: redis.Redis
) -> None:
    llm_server.fail_next(2, "500")
    slept: list[float] = []
    caller = caller_for(llm_server, redis_client)
    caller._sleep = slept.append
    reply = caller.chat(HELLO)
    assert reply.text
    assert len(llm_server.log) == 3
    assert len(slept) == 2 and 0 < slept[0] <= 0.5 and slept[1] <= 1.0


def test_retries_are_bounded(llm_server: LLMServer, redis_client: redis.Redis) -> None:
    llm_server.fail_next(10, "500")
    caller = caller_for(llm_server, redis_client, max_retries=2)
    caller._sleep = lambda s: None
    with pytest.raises(TransientLLMError):
        caller.chat(HELLO)
    assert len(llm_server.log) == 3


def test_a_malformed_reply_is_not_retried(llm_server: LLMServer, redis_client: redis.Redis) -> None:
    llm_server.fail_next(1, "bad-json")
    with pytest.raises(MalformedReply, match="not JSON"):
        caller_for(llm_server, redis_client).chat(HELLO)
    assert len(llm_server.log) == 1


def test_a_429_pauses_the_shared_limit_for_retry_after(
    llm_server: LLMServer, redis_client: redis.Redis
) -> None:
    llm_server.fail_next(1, "429", retry_after=1.5)
    caller = caller_for(llm_server, redis_client)
    started = time.monotonic()
    caller.chat(HELLO)
    assert time.monotonic() - started >= 1.4
    first, second = llm_server.log[0].at, llm_server.log[1].at
    assert second - first >= 1.4


def test_settled_tokens_are_the_replys_usage(
    llm_server: LLMServer, redis_client: redis.Redis
) -> None:
    caller = caller_for(llm_server, redis_client)
    reply = caller.chat(HELLO)
    entries = caller.limiter.entries()
    assert [e.tokens for e in entries] == [reply.total_tokens]
    # Settled at the reply, not dated ahead by the in-flight hold.
    assert entries[0].at <= float(redis_client.time()[0]) + 1
