"""A remote batch that the shared limit cannot serve in time hands the rest to a later message.

A strict endpoint limit (2 requests per 6 s window) against batches of 2 requests: most batches
wait longer than a task may hold its message (`worker_wait_budget`, 3 s under a 30 s visibility
timeout). Each stores what it embedded and sends the rest with a countdown instead of waiting
until Redis hands its message out again; the ingest completes and nothing is paid for twice.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import pytest

from tasks.celery_config import time_limits
from tasks.embedding.remote import worker_wait_budget
from tasks.settings import Settings
from tasks.store import ChunkStore
from tests.faults.harness import redelivered
from tests.faults.report import RecordProperty
from tests.support.books import expected_chunk_ids
from tests.support.embeddings_server import serve_embeddings
from tests.support.mirror import Mirror
from tests.support.remote_cluster import remote_cluster

pytestmark = [pytest.mark.e2e]

WINDOW, RPM, INPUTS, BATCH = 6.0, 2, 4, 8
WORKER = {
    "EMBED_RPM": str(RPM), "EMBED_TPM": "100000", "EMBED_WINDOW_SECONDS": str(WINDOW),
    "EMBED_MAX_INPUTS": str(INPUTS), "RAGMILL_BATCH_CHUNKS": str(BATCH),
    "EMBED_TIMEOUT": "20", "RAGMILL_VISIBILITY_TIMEOUT": "30",
}
_RAN = re.compile(r"embed_batch\[[0-9a-f-]+\] succeeded in ([0-9.]+)s: (\{.*\})")


@pytest.mark.reliability(
    "fault", f"embed-remote under a strict limit ({RPM} requests per {WINDOW:g} s)", order=10
)
def test_a_batch_the_limit_cannot_serve_in_time_is_deferred_not_redelivered(
    tmp_path: Path, mirror: tuple[Mirror, dict[str, bytes]], record_property: RecordProperty
) -> None:
    settings = Settings.from_env({**WORKER, "EMBED_BACKEND": "openai",
                                  "EMBED_BASE_URL": "http://127.0.0.1:1/v1", "EMBED_MODEL": "m"})
    budget, (soft, _) = worker_wait_budget(settings), time_limits(settings)
    books = {"1001": mirror[1]["1001"]}
    with serve_embeddings(rpm=RPM, tpm=100_000, window=WINDOW, latency=0.05) as server, \
            remote_cluster(tmp_path, mirror[0].url, server, embed_processes=1,
                           **cast(dict[str, Any], WORKER)) as c:
        done = c.ingest("remote-wait", *books)
        log = (c.logs / "remote1.log").read_text(errors="replace")
        assert done.code == 0, done.stderr
        expected = expected_chunk_ids(books)
        store = ChunkStore.connect(c.chroma_url, "remote-wait")
        assert set(store.all_ids()) == expected and store.count() == len(expected)
    # Nothing embedded twice (paid for twice), nothing over the limit, nothing redelivered.
    assert server.inputs == len(expected), (server.inputs, len(expected))
    assert server.violations == []
    assert redelivered(log) == 0 and "Restoring" not in log
    runs = [(float(s), result) for s, result in _RAN.findall(log)]
    deferred = [result for _, result in runs if "deferred" in result]
    longest = max(s for s, _ in runs)
    assert deferred, "no batch was deferred: the limit never outlasted the wait budget"
    assert longest < soft, f"a task ran {longest:.1f} s"
    seconds = cast(dict[str, Any], done.json())["seconds"]
    record_property("checked", f"wait budget {budget:g} s (visibility timeout 30 s): exit 0, "
                    "stored ids == expected, endpoint inputs == chunks, no 429 from the "
                    "server's own count, no message redelivered, every task under its soft "
                    f"limit ({soft:g} s)")
    record_property("observed", f"{len(expected)} chunks, {server.inputs} inputs sent; "
                    f"{len(deferred)} of {len(runs)} task runs deferred the rest of their "
                    f"batch; longest task {longest:.1f} s; {seconds} s in all")
