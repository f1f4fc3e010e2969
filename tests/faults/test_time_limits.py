"""Work that hangs ends within its time limit, below the visibility timeout, with one line.

A parser that never returns, or an encoder stuck in native code, would otherwise hold its
message until Redis handed it out again, and then hang a second worker the same way.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tasks.celery_config import extraction_timeout, time_limits
from tasks.settings import Settings
from tasks.store import ChunkStore
from tests.faults.cluster import VISIBILITY_TIMEOUT, FaultCluster, expected_ids, run_ingest
from tests.faults.hangs import EMBED_MARK, PARSER_MARK, hanging_env, marked_book
from tests.faults.harness import BOOKS, COLLECTION, exact, finish_row, redelivered, summary
from tests.faults.report import RecordProperty
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e]

LIMITS = Settings.from_env({"RAGMILL_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)})
_FETCHES = re.compile(r"ragmill\.fetch_book\[[0-9a-f-]+\] received")


def one_failure(stdout: str, label: str) -> str:
    result = summary(stdout)
    assert list(result["failures"]) == [label], result["failures"]
    assert result["books_done"] == 2 and result["books_failed"] == 1
    reason: str = result["failures"][label]
    assert "\n" not in reason and label in reason
    return reason


@pytest.mark.reliability(
    "fault", "a parser that never returns on one file (io worker's extraction process)", order=8
)
def test_a_hanging_parser_fails_its_book_before_the_visibility_timeout(
    private_cluster: FaultCluster, tmp_path: Path, record_property: RecordProperty
) -> None:
    cluster = private_cluster
    cluster.start_standard_workers(io_env=hanging_env(tmp_path / "hook", cluster.env()))
    hangs = tmp_path / "hangs.txt"
    hangs.write_bytes(marked_book(BOOKS["2003"], PARSER_MARK))
    started = time.monotonic()
    done = run_ingest(cluster, COLLECTION, "2001", str(hangs), "2002", timeout=150)
    seconds = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    reason = one_failure(done.stdout, str(hangs))
    limit = extraction_timeout(LIMITS)
    assert f"took longer than {limit:.0f} s" in reason, reason
    stored = exact(cluster, expected_ids({k: BOOKS[k] for k in ("2001", "2002")}))
    # Each fetch was delivered once: the hung one was not handed to a second thread.
    fetches = len(_FETCHES.findall(cluster.log("io")))
    assert fetches == 3, fetches
    finish_row(
        cluster, record_property, done.stdout, done.stderr,
        checked=f"extraction timeout {limit:.0f} s (half of RAGMILL_VISIBILITY_TIMEOUT="
        f"{VISIBILITY_TIMEOUT}): exit 1, one line naming the file, its process killed and "
        "replaced, each fetch delivered once, the other books stored",
        observed=f"\"{reason}\"; {fetches} fetches received; {stored}; {seconds:.0f} s in all",
    )


@pytest.mark.reliability(
    "fault", "an encoder that never returns on one batch (embed prefork process)", order=9
)
def test_a_hanging_embed_batch_is_killed_at_its_hard_limit_and_fails_its_book(
    private_cluster: FaultCluster, tmp_path: Path, record_property: RecordProperty
) -> None:
    cluster = private_cluster
    cluster.start_worker("io", concurrency=4, wait=False)
    hook = hanging_env(tmp_path / "hook", cluster.env())
    cluster.start_worker("embed", concurrency=2, env=hook)
    cluster.wait_for_worker("io")
    hangs = tmp_path / "hangs.txt"
    text = marked_book(BOOKS["2003"], EMBED_MARK)
    hangs.write_bytes(text)
    before = set(cluster.pool_children("embed"))
    done = run_ingest(cluster, COLLECTION, "2001", str(hangs), "2002", timeout=150)
    assert done.returncode == 1, done.stderr
    reason = one_failure(done.stdout, str(hangs))
    soft, hard = time_limits(LIMITS)
    assert f"TimeLimitExceeded: ran past its time limit of {hard:.0f} s" in reason, reason
    log = cluster.log("embed")
    assert f"Hard time limit ({hard:g}s) exceeded" in log
    assert redelivered(log) == 0, "a batch was delivered twice"
    # The pool reaps the killed process and starts another a moment after the failure.
    wait_for(
        lambda: len(before - set(cluster.pool_children("embed"))) == 1
        and len(cluster.pool_children("embed")) == len(before),
        20, "the hung process to be replaced",
    )
    others = expected_ids({k: BOOKS[k] for k in ("2001", "2002")})
    ids = ChunkStore.connect(cluster.chroma_url, COLLECTION).all_ids()
    assert len(ids) == len(set(ids)) and others <= set(ids)
    finish_row(
        cluster, record_property, done.stdout, done.stderr,
        checked=f"soft / hard time limit {soft:g} / {hard:g} s (0.7 / 0.85 of "
        f"RAGMILL_VISIBILITY_TIMEOUT={VISIBILITY_TIMEOUT}): exit 1, one line naming the file; "
        "the process killed and replaced; no batch delivered twice; the other books stored",
        observed=f"\"{reason[:150]}\"; one process replaced; "
        f"{len(set(ids))} distinct chunks stored",
    )
