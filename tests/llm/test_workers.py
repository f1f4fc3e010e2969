"""The shared limit across real worker processes: no violations, a 429 pauses everyone.

The window is shortened to 5 seconds with proportional limits (LLM_WINDOW_SECONDS=5,
LLM_RPM=20 requests per window) so each test runs in seconds; the limiter's rules do not depend
on the window's length. Two `celery -A tasks worker -Q llm --pool threads -c 4` processes share
one real redis-server and call the local test server, which counts requests per window itself.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.llm_bench import client_app, llm_env, queue_prompts, start_llm_workers
from pipeline.processes import Service
from pipeline.stack import service_env
from tests.support.llm_server import LLMServer, serve_llm

pytestmark = pytest.mark.e2e

WINDOW = 5.0
RPM = 20


@pytest.fixture
def setup(
    llm_redis_url: str, redis_client: object, tmp_path: Path
) -> Iterator[tuple[LLMServer, object, list[Service]]]:
    with serve_llm(rpm=RPM, tpm=100_000, window=WINDOW, latency=0.05) as server:
        app = client_app(llm_redis_url)
        app.control.purge()
        env = llm_env(service_env(tmp_path), llm_redis_url, server.url, rpm=RPM, tpm=100_000,
                      window_seconds=WINDOW, timeout=5, max_tokens=20,
                      task_budget_seconds=60)
        workers = start_llm_workers(2, 4, env, tmp_path / "logs", app)
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


def wait_for(server: LLMServer, accepted: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(server.accepted()) < accepted and time.monotonic() < deadline:
        time.sleep(0.1)


def test_a_backlog_through_two_processes_never_exceeds_the_limit_and_runs_each_task_once(
    setup: tuple[LLMServer, object, list[Service]],
) -> None:
    server, app, workers = setup
    tasks = 2 * RPM + 10  # two and a half windows' worth, all queued at once
    queue_prompts(app, tasks)  # type: ignore[arg-type]
    wait_for(server, tasks, timeout=40)

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
    wait_for(server, 10, timeout=30)
    log = sorted(server.log, key=lambda s: s.at)
    refused = next(s for s in log if s.status == 0)
    after = [s.at - refused.at for s in log if s.at > refused.at]
    assert after, "no request followed the 429"
    # Requests already on the wire when the 429 was sent may land just after it; beyond that,
    # nobody in either process sends anything until Retry-After has passed.
    assert not [d for d in after if 0.3 < d < 1.95]
    assert min(d for d in after if d >= 0.3) < 3.0  # and then they resume promptly
    assert server.violations == []
