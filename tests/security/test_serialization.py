"""JSON only, in both directions: a pickled message is refused by a real worker, never run."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Producer

from tasks.celery_config import celery_config
from tasks.settings import Settings
from tests.conftest import Cluster
from tests.faults.report import RecordProperty

pytestmark = pytest.mark.e2e


class _TouchOnLoad:
    """Unpickling this creates a file: the proof that a worker ran a sender's code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def test_every_serializer_setting_is_json_only() -> None:
    config = celery_config(Settings())
    assert config["task_serializer"] == config["result_serializer"] == "json"
    assert config["event_serializer"] == "json"
    assert config["accept_content"] == config["result_accept_content"] == ["json"]


@pytest.mark.reliability("security", "a pickled task message published to the io queue")
def test_a_pickled_message_is_rejected_and_not_unpickled(
    cluster: Cluster, tmp_path: Path, record_property: RecordProperty
) -> None:
    marker = tmp_path / "unpickled"
    body = pickle.dumps(((_TouchOnLoad(marker),), {}, {}))
    log_path = cluster.data_dir / "logs" / "io.log"
    log_before = log_path.read_text(errors="replace")
    with Connection(cluster.redis_url) as connection:
        Producer(connection).publish(
            body,
            exchange=Exchange("io", type="direct"),
            routing_key="io",
            serializer=None,
            content_type="application/x-python-serialize",
            content_encoding="binary",
            headers={"task": "ragmill.fetch_book", "id": "pickled-1", "lang": "py"},
        )
    deadline = time.monotonic() + 30
    refusal = ""
    while time.monotonic() < deadline and not refusal:
        new = log_path.read_text(errors="replace")[len(log_before):]
        refusal = next((line for line in new.splitlines() if "untrusted content" in line), "")
        time.sleep(0.2)
    assert "pickle" in refusal
    assert not marker.exists()
    record_property("checked", "the worker logs a refusal; the payload's code did not run")
    record_property("observed", refusal.split("] ", 1)[-1].strip())
