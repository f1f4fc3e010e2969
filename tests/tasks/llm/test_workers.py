"""The shared limit across real worker processes: no violations, a 429 pauses everyone.

The window is shortened to 5 seconds with proportional limits (LLM_WINDOW_SECONDS=5,
LLM_RPM=20 requests per window) so each test runs in seconds; the limiter's rules do not depend
on the window's length. Two `celery -A tasks worker -Q llm --pool threads -c 4` processes share
one real redis-server and call the local test server, which counts requests per window itself.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pipeline.stack.broker import client_app
from pipeline.stack.local import service_env
from pipeline.stack.processes import Service
from tasks.messages import TASK_NAMES, BookInfo, ChunkItem, ContextualizeBatch, send_options
from tests.bench.llm_limit import llm_env, queue_prompts, start_llm_workers
from tests.support.chat_server import LLMServer, serve_llm
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

WINDOW = 5.0
RPM = 20


@pytest.fixture
def setup(
    own_redis_url: str, redis_client: object, tmp_path: Path
) -> Iterator[tuple[LLMServer, object, list[Service]]]:
    with serve_llm(rpm=RPM, tpm=100_000, window=WINDOW, latency=0.05) as server:
        app = client_app(own_redis_url)
        app.control.purge()
        env = llm_env(
            service_env(tmp_path),
            own_redis_url,
            server.url,
            rpm=RPM,
            tpm=100_000,
            window_seconds=WINDOW,
            timeout=5,
            max_tokens=20,
            task_budget_seconds=60,
        )
        workers = start_llm_workers(2, 4, env, tmp_path / "logs")
        try:
            yield server, app, workers
        finally:
            app.control.purge()
            for w in workers:
                w.stop(grace=10)
            app.close()


def task_number(prompt: str) -> int:
    found = re.match(r"task (\d+) ", prompt)
    assert found, prompt
    return int(found.group(1))


def wait_for_accepted(server: LLMServer, accepted: int, timeout: float) -> None:
    wait_for(lambda: len(server.accepted()) >= accepted, timeout, f"{accepted} accepted requests")


def test_a_backlog_through_two_processes_never_exceeds_the_limit_and_runs_each_task_once(
    setup: tuple[LLMServer, object, list[Service]],
) -> None:
    server, app, workers = setup
    tasks = 2 * RPM + 10  # two and a half windows' worth, all queued at once
    queue_prompts(app, tasks)  # type: ignore[arg-type]
    wait_for_accepted(server, tasks, timeout=40)

    assert server.violations == []
    most, _tokens = server.max_in_window()
    assert most <= RPM
    # Every task ran to completion exactly once.
    ids = Counter(task_number(s.content) for s in server.accepted())
    assert sorted(ids) == list(range(tasks))
    assert set(ids.values()) == {1}
    # Nearly all of the limit is used: the second window is full again (figures: the benchmark).
    first = server.accepted()[0].at
    second_window = [s for s in server.accepted() if first + WINDOW <= s.at < first + 2 * WINDOW]
    assert len(second_window) >= 0.8 * RPM
    assert all(w.alive() for w in workers)


def test_a_429_makes_every_worker_wait_for_its_retry_after(
    setup: tuple[LLMServer, object, list[Service]],
) -> None:
    server, app, _ = setup
    # The first request of the backlog is refused; eight threads in two processes are idle.
    server.fail_next(1, "429", retry_after=2)
    queue_prompts(app, RPM)  # type: ignore[arg-type]
    wait_for_accepted(server, 10, timeout=30)
    log = sorted(server.log, key=lambda s: s.at)
    refused = next(s for s in log if s.status == 0)
    after = [s.at - refused.at for s in log if s.at > refused.at]
    assert after, "no request followed the 429"
    # Requests already on the wire when the 429 was sent may land just after it; beyond that,
    # nobody in either process sends anything until Retry-After has passed.
    assert not [d for d in after if 0.5 < d < 1.95]
    assert min(d for d in after if d >= 0.5) < 3.0  # and then they resume promptly
    assert server.violations == []


def test_a_batch_that_waits_past_its_budget_is_requeued_and_each_chunk_asked_once(
    own_redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """LLM_TASK_BUDGET_SECONDS=1 with room for 4 requests per 5 s window: a batch of 10 chunks
    must hand itself on (a fresh message, no ETA) at least twice before it is complete."""
    with serve_llm() as server:
        app = client_app(own_redis_url)
        env = llm_env(
            service_env(tmp_path),
            own_redis_url,
            server.url,
            rpm=4,
            tpm=100_000,
            window_seconds=WINDOW,
            timeout=0.8,
            max_tokens=20,
            task_budget_seconds=1,
        )
        workers = start_llm_workers(1, 2, env, tmp_path / "logs", tag="budget")
        try:
            chunks = tuple(
                ChunkItem(id=f"b:{i:05d}:x", position=i, text=f"chunk {i} of the book", tokens=6)
                for i in range(10)
            )
            book = BookInfo(
                book_id="b", title="A Book", author="An Author", language="en", source="b"
            )
            batch = ContextualizeBatch(
                run_id="run-budget", collection="coll", book=book, index=0, chunks=chunks
            )
            app.send_task(TASK_NAMES[ContextualizeBatch], **send_options(batch), queue="llm")
            wait_for(lambda: redis_client.llen("embed"), 40, "the batch's embed message", step=0.2)
            time.sleep(1.0)  # a second embed message, if any, would follow at once
        finally:
            for w in workers:
                w.stop(grace=10)
            app.close()
    passage = re.compile(r"<passage>\nchunk (\d+) of")
    asked = Counter(passage.findall(s.content)[0] for s in server.accepted())
    assert sorted(asked.values()) == [1] * 10
    messages = redis_client.lrange("embed", 0, -1)
    assert len(messages) == 1
    body = json.loads(base64.b64decode(json.loads(messages[0])["body"]))
    sent = body[1]["message"]["chunks"]
    assert [c["id"] for c in sent] == [c.id for c in chunks]
    assert all(c["context"].startswith("Context:") for c in sent)
    log = (tmp_path / "logs" / "budget0.log").read_text()
    assert log.count("'requeued': True") >= 2
