"""The settings behind the fault behaviours: redelivery timing, download bounds, cancelled runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tasks.celery_config import celery_config
from tasks.ledger import RunLedger
from tasks.resources import redis_retry
from tasks.settings import Settings, SettingsError
from tests.support.servers import redis_server


def test_the_visibility_timeout_and_restore_sweep_follow_the_setting() -> None:
    options = celery_config(Settings.from_env({"RAGMILL_VISIBILITY_TIMEOUT": "45"}))[
        "broker_transport_options"
    ]
    assert options == {
        "visibility_timeout": 45,
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
    short = celery_config(Settings(visibility_timeout=6))["broker_transport_options"]
    assert short["unacked_restore_interval"] == 2  # type: ignore[index]
    assert Settings().visibility_timeout == 300


def test_download_bounds_come_from_the_environment() -> None:
    settings = Settings.from_env({"RAGMILL_READ_TIMEOUT": "7", "RAGMILL_DOWNLOAD_RETRIES": "0"})
    assert (settings.download_read_timeout, settings.download_retries) == (7, 0)


@pytest.mark.parametrize(
    "env",
    [{"RAGMILL_VISIBILITY_TIMEOUT": "2"}, {"RAGMILL_READ_TIMEOUT": "0"},
     {"RAGMILL_DOWNLOAD_RETRIES": "-1"}, {"RAGMILL_VISIBILITY_TIMEOUT": "soon"}],
)
def test_nonsense_bounds_are_refused_naming_the_variable(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=next(iter(env))):
        Settings.from_env(env)


def test_redis_clients_ride_out_about_a_minute() -> None:
    retry = redis_retry()
    waits = [retry._backoff.compute(n) for n in range(1, retry._retries + 1)]
    assert 45 < sum(waits) < 70


@pytest.fixture
def client(tmp_path: Path) -> Iterator[redis.Redis]:
    with redis_server(tmp_path / "redis") as url:
        yield redis.Redis.from_url(url)


def test_a_cancelled_run_says_so_to_workers_and_to_status(client: redis.Redis) -> None:
    ledger = RunLedger(client, f"test-{uuid.uuid4().hex[:8]}")
    ledger.start(books_total=1, description="x")
    assert not ledger.cancelled() and ledger.snapshot().cancelled_at == 0
    ledger.cancel()
    first = ledger.snapshot().cancelled_at
    ledger.cancel()
    assert ledger.cancelled() and ledger.snapshot().cancelled_at == first > 0
    assert not RunLedger(client, "another-run").cancelled()
