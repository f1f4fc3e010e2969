"""Remote embedding against a strict endpoint whose token limit binds finishes and uses the limit.

The endpoint of a provider's strict tier, its window shortened to 3 s with limits scaled to it: a
request and a token limit of which tokens bind, at most 32 inputs a request, a 429 with
Retry-After on every 5th request and a 500 on every 13th. Three books of about 130 chunks each
(64-token chunks, batches of 64: two requests each) go through two `embed-remote` worker
processes under a 30 s visibility timeout, so a batch the limit cannot serve within its wait
budget (3 s) must hand the rest on rather than be handed out twice. The server answers with
vectors drawn from each text's hash: what is under test is the limit, and the model's CPU time on
a busy machine would otherwise decide how fast the endpoint could go.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import pytest

from tasks.celery_config import time_limits
from tasks.settings import Settings
from tasks.store import ChunkStore
from tests.faults.harness import redelivered
from tests.faults.report import RecordProperty
from tests.support.books import expected_chunk_ids, gutenberg_text
from tests.support.embeddings_server import serve_embeddings
from tests.support.mirror import serve_mirror
from tests.support.remote_cluster import remote_cluster

pytestmark = [pytest.mark.e2e]

WINDOW, RPM, TPM, INPUTS = 3.0, 16, 10_000, 32
CHUNK_TOKENS, CHUNK_OVERLAP, BATCH, PARAGRAPHS = 64, 8, 64, 100
EVERY_429, EVERY_500, RETRY_AFTER = 5, 13, 0.5
WORKER = {
    "EMBED_RPM": str(RPM), "EMBED_TPM": str(TPM), "EMBED_WINDOW_SECONDS": str(WINDOW),
    "EMBED_MAX_INPUTS": str(INPUTS), "RAGMILL_BATCH_CHUNKS": str(BATCH),
    "RAGMILL_CHUNK_TOKENS": str(CHUNK_TOKENS), "RAGMILL_CHUNK_OVERLAP": str(CHUNK_OVERLAP),
    "EMBED_TIMEOUT": "20", "RAGMILL_VISIBILITY_TIMEOUT": "30",
}
# A request admitted before its process heard of another's 429 may still be on the wire.
ON_THE_WIRE = 0.3
_RAN = re.compile(r"embed_batch\[[0-9a-f-]+\] succeeded in ([0-9.]+)s")


@pytest.mark.reliability(
    "fault", f"embed-remote under a strict token limit ({TPM:,} tokens and {RPM} requests per "
    f"{WINDOW:g} s, {INPUTS} inputs a request, a 429 every {EVERY_429}th request, a 500 every "
    f"{EVERY_500}th)", order=11,
)
def test_a_strict_token_limit_is_used_to_at_least_80_percent_and_the_ingest_completes(
    tmp_path: Path, record_property: RecordProperty
) -> None:
    books = {book: gutenberg_text(book, paragraphs=PARAGRAPHS).text.encode()
             for book in ("1001", "1002", "1003")}
    expected = expected_chunk_ids(books, chunk_tokens=CHUNK_TOKENS, chunk_overlap=CHUNK_OVERLAP)
    settings = Settings.from_env({**WORKER, "EMBED_BACKEND": "openai",
                                  "EMBED_BASE_URL": "http://127.0.0.1:1/v1", "EMBED_MODEL": "m"})
    soft, _ = time_limits(settings)
    with serve_mirror(tmp_path / "mirror") as mirror, serve_embeddings(
        rpm=RPM, tpm=TPM, window=WINDOW, latency=0.05, max_inputs=INPUTS, every_429=EVERY_429,
        every_500=EVERY_500, every_retry_after=RETRY_AFTER, hashed_vectors=True,
    ) as server:
        for book, data in books.items():
            mirror.put(f"cache/epub/{book}/pg{book}.txt", data)
        with remote_cluster(tmp_path, mirror.url, server, embed_processes=2, threads=4,
                            **WORKER) as c:
            done = c.ingest("strict-tokens", *books)
            logs = "".join(p.read_text(errors="replace") for p in c.logs.glob("remote*.log"))
            assert done.code == 0, done.stderr
            store = ChunkStore.connect(c.chroma_url, "strict-tokens")
            assert set(store.all_ids()) == expected and store.count() == len(expected)
    failures = [s.content for s in server.log if s.status == 0]
    assert failures.count("429") >= 3 and failures.count("500") >= 1, failures
    # Each chunk embedded (paid for) once; nothing over the limit by the endpoint's own count,
    # and no request while a 429's Retry-After said to stay away.
    assert server.inputs == len(expected), (server.inputs, len(expected))
    assert server.violations == [], server.violations
    assert server.early_requests(grace=ON_THE_WIRE) == []
    # No batch worked on twice at once: no message received twice, none restored from unacked.
    assert redelivered(logs) == 0 and "Restoring" not in logs
    longest = max(float(s) for s in _RAN.findall(logs))
    assert longest < soft, f"a task ran {longest:.1f} s"
    # Tokens bind, and the busiest window uses at least 80 % of them.
    requests, tokens = server.max_in_window()
    assert requests < RPM
    assert 0.8 * TPM <= tokens <= TPM, f"the busiest {WINDOW:g} s held {tokens} of {TPM} tokens"
    summary = cast(dict[str, Any], done.json())
    record_property("checked", "exit 0; stored ids == expected; endpoint inputs == chunks; no "
                    "request over the limit or inside a Retry-After (the server's own count); no "
                    f"message received twice or restored; every task under its soft limit "
                    f"({soft:g} s); busiest window's tokens >= 80 % of the limit")
    record_property("observed", f"{len(expected)} chunks in {summary['embed_requests']} requests "
                    f"({failures.count('429')} answered 429, {failures.count('500')} 500); "
                    f"busiest {WINDOW:g} s: {tokens:,} of {TPM:,} tokens ({tokens / TPM:.0%}), "
                    f"{requests} of {RPM} requests; longest task {longest:.1f} s; "
                    f"{summary['seconds']} s in all")
