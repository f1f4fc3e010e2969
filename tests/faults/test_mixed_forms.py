"""Embed workers of two CPU generations write one collection on defaults.

`onnx-int8` runs OpenVINO's static int8 with its float parts in bf16 on CPUs with native bf16 and
in f32 elsewhere (tasks/embedding/variants.default_variant). EMBED_VARIANT forces each form here,
as two machines' CPU flags would pick them: both workers store batches of one run into one
collection, and a worker of another int8 file is still refused in one line.
"""

from __future__ import annotations

import pytest

from tasks.ledger import RunLedger, recent_runs
from tests.faults.cluster import FaultCluster, big_books, run_ingest
from tests.faults.harness import BOOKS, COLLECTION, exact, finish_row, summary
from tests.faults.report import RecordProperty

pytestmark = [pytest.mark.e2e]

F32, BF16 = "int8-static-openvino", "int8-static-openvino-bf16"
OTHER_FILE = "int8-dynamic"
LATE_BOOK = big_books({"2004": "1001"}, paragraphs=10)


@pytest.mark.reliability(
    "fault", "embed workers whose CPUs pick different float precisions share a collection",
    order=7,
)
def test_workers_of_two_float_precisions_fill_one_collection(
    private_cluster: FaultCluster, expected: set[str], record_property: RecordProperty
) -> None:
    cluster = private_cluster
    cluster.start_worker("io", concurrency=4, wait=False)
    for name, variant in (("embed-f32", F32), ("embed-bf16", BF16)):
        cluster.start_worker(
            "embed", name=name, concurrency=1, wait=False, env={"EMBED_VARIANT": variant}
        )
    for name in ("io", "embed-f32", "embed-bf16"):
        cluster.wait_for_worker(name)
    # The client claims the collection for the f32 form; the bf16 worker joins it.
    done = run_ingest(cluster, COLLECTION, *BOOKS, env=cluster.env(EMBED_VARIANT=F32))
    assert done.returncode == 0, done.stderr
    by_node = RunLedger(cluster.client(), recent_runs(cluster.client())[0]).batches_by_node()
    per_form = {form: sum(n for node, n in by_node.items() if node.startswith(form))
                for form in ("embed-f32@", "embed-bf16@")}
    assert all(per_form.values()), by_node
    stored = exact(cluster, expected)

    for name in ("embed-f32", "embed-bf16"):
        cluster.kill_worker(name)
    cluster.start_worker("embed", name="embed-other", concurrency=1,
                         env={"EMBED_VARIANT": OTHER_FILE})
    cluster.mirror.put("cache/epub/2004/pg2004.txt", LATE_BOOK["2004"])
    refused = run_ingest(cluster, COLLECTION, "2004", env=cluster.env(EMBED_VARIANT=F32))
    assert refused.returncode == 1, refused.stderr
    reason = summary(refused.stdout)["failures"]["2004"]
    assert "RecordMismatch" in reason and "quantisation differ" in reason, reason
    assert "\n" not in reason
    exact(cluster, expected)
    finish_row(
        cluster, record_property, done.stdout, done.stderr, refused.stdout, refused.stderr,
        checked=f"client and one worker {F32}, another worker {BF16}: exit 0, both store "
        f"batches, stored ids == expected; then a worker of {OTHER_FILE}: the book fails with "
        "one RecordMismatch line and nothing is added",
        observed=f"batches stored by form: {per_form}; {stored}; refusal: \"{reason[:120]}...\"",
    )
