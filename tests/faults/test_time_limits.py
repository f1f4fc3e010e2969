"""Work that hangs ends within its time limit, below the visibility timeout, with one line.

A parser that never returns, or an encoder stuck in native code, would otherwise hold its
message until Redis handed it out again, and then hang a second worker the same way. One ingest
meets both: one file hangs the io worker's extraction process, another hangs an embed process.
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
from tests.faults.harness import BOOKS, COLLECTION, redelivered, summary
from tests.faults.report import RecordProperty
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e]

LIMITS = Settings.from_env({"RAGMILL_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)})
_FETCHES = re.compile(r"ragmill\.fetch_book\[[0-9a-f-]+\] received")


@pytest.mark.reliability("fault", "work that never returns", order=8)
def test_hanging_work_ends_at_its_time_limit_with_one_line_and_nothing_delivered_twice(
    private_cluster: FaultCluster, tmp_path: Path, record_property: RecordProperty
) -> None:
    cluster = private_cluster
    hook = hanging_env(tmp_path / "hook", cluster.env())
    cluster.start_worker("io", concurrency=4, wait=False, env=hook)
    cluster.start_worker("embed", concurrency=2, wait=False, env=hook)
    for name in ("io", "embed"):
        cluster.wait_for_worker(name)
    parser, encoder = tmp_path / "hangs-parser.txt", tmp_path / "hangs-encoder.txt"
    parser.write_bytes(marked_book(BOOKS["2002"], PARSER_MARK))
    encoder.write_bytes(marked_book(BOOKS["2003"], EMBED_MARK))
    before = set(cluster.pool_children("embed"))
    started = time.monotonic()
    done = run_ingest(cluster, COLLECTION, "2001", str(parser), str(encoder), timeout=150)
    seconds = time.monotonic() - started

    assert done.returncode == 1, done.stderr
    result = summary(done.stdout)
    assert sorted(result["failures"]) == sorted([str(parser), str(encoder)]), result["failures"]
    assert (result["books_done"], result["books_failed"]) == (1, 2)
    reasons = {label: result["failures"][label] for label in (str(parser), str(encoder))}
    assert all("\n" not in r and label in r for label, r in reasons.items())
    limit = extraction_timeout(LIMITS)
    soft, hard = time_limits(LIMITS)
    assert f"took longer than {limit:.0f} s" in reasons[str(parser)]
    assert f"TimeLimitExceeded: ran past its time limit of {hard:.0f} s" in reasons[str(encoder)]
    # Each fetch delivered once, no batch delivered twice: nothing was handed to a second worker.
    fetches = len(_FETCHES.findall(cluster.log("io")))
    assert fetches == 3, fetches
    log = cluster.log("embed")
    assert f"Hard time limit ({hard:g}s) exceeded" in log
    assert redelivered(log) == 0, "a batch was delivered twice"
    # The pool reaps the killed process and starts another a moment after the failure.
    wait_for(
        lambda: len(before - set(cluster.pool_children("embed"))) == 1
        and len(cluster.pool_children("embed")) == len(before),
        20, "the hung embed process to be replaced",
    )
    ids = ChunkStore.connect(cluster.chroma_url, COLLECTION).all_ids()
    assert len(ids) == len(set(ids)) and expected_ids({"2001": BOOKS["2001"]}) <= set(ids)
    assert not cluster.leaked_secret(done.stdout, done.stderr)
    common = f"{seconds:.0f} s for the whole ingest; {fetches} fetches received, no batch twice"
    record_property("rows", [
        {"case": "a parser that never returns on one file (io worker's extraction process)",
         "checked": f"extraction timeout {limit:.0f} s (half of RAGMILL_VISIBILITY_TIMEOUT="
         f"{VISIBILITY_TIMEOUT}): exit 1, one line naming the file, its process killed and "
         "replaced, each fetch delivered once, the other books stored",
         "observed": f"\"{reasons[str(parser)].replace(str(tmp_path), '…')}\"; {common}"},
        {"case": "an encoder that never returns on one batch (embed prefork process)",
         "checked": f"soft / hard time limit {soft:g} / {hard:g} s (0.7 / 0.85 of "
         f"RAGMILL_VISIBILITY_TIMEOUT={VISIBILITY_TIMEOUT}): one line naming the file; the "
         "process killed and replaced; no batch delivered twice; the other book stored",
         "observed": f"\"{reasons[str(encoder)].replace(str(tmp_path), '…')[:140]}…\"; one "
         f"process replaced; {common}"},
    ])
