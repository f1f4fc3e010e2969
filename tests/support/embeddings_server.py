"""A local OpenAI-compatible /v1/embeddings server with real vectors and a provider's limits.

It answers POST /v1/embeddings with the bundled all-MiniLM-L6-v2's vectors (so retrieval works
end to end) and `usage.prompt_tokens` counted by that model's tokenizer. Like a provider it keeps
a sliding window of requests and tokens (the chat server's, tests/support/chat_server.py): a
request that would take it over EMBED_RPM/EMBED_TPM is a *violation*, answered 429 with
Retry-After and recorded. It can be told to fail: the next N requests answered 500, 429 (with a
chosen Retry-After), 401, 413, bad JSON, too few vectors or vectors of the wrong dimension; a
share of requests answered 429 (with Retry-After) or 500 at random, or every Nth request; every
reply delayed; a key required. A failure is not counted in the window: the provider did no work.
With `hashed_vectors` it answers with vectors drawn from each text's hash instead of the model's:
for tests of the limit, where the vectors' meaning is not under test and the model's CPU time on
a busy machine would decide how fast the endpoint can go.

Every 429 is recorded as a `Notice`: when its reply left the server and when it told the client
to come back (that moment plus Retry-After), so a test can check that no request from any
process arrived before it (`early_requests`).
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from corpus.tokens import load_tokenizer
from pipeline.bench.local_http import QuietHandler, serve_http
from tasks.embedding import Embedder
from tasks.settings import default_model
from tests.support.chat_server import LLMServer, Served

MODEL = "all-MiniLM-L6-v2"
FAILURES: dict[str, tuple[int, bytes]] = {
    "500": (500, b'{"error": {"message": "boom"}}'),
    "401": (401, b'{"error": {"message": "Incorrect API key provided"}}'),
    "413": (413, b'{"error": {"message": "payload too large"}}'),
    "bad-json": (200, b"<html>not json</html>"),
}


@dataclass(frozen=True)
class Notice:
    """A 429 as sent: the reply left after `told` and said to come back at `until`."""

    told: float
    until: float


@cache
def model() -> Embedder:
    """The bundled model, loaded once per test process (torch: no export step)."""
    return Embedder(default_model(), backend="torch", batch_size=32)


@cache
def tokenizer() -> Tokenizer:
    """The bundled model's tokenizer alone: what `hashed_vectors` counts with, without loading
    the model."""
    return load_tokenizer(Path(default_model()))


@dataclass
class EmbeddingsServer(LLMServer):
    """State and controls of a running embeddings server (times are time.time())."""

    # The key a request must carry (Authorization: Bearer ...); None accepts any.
    api_key: str | None = None
    # 413 for a request of more inputs than this.
    max_inputs: int = 2048
    # The share of requests answered 429 (Retry-After `random_retry_after`) whatever the window.
    random_429: float = 0.0
    random_retry_after: float = 1.0
    # The share of requests answered 500 at random.
    random_500: float = 0.0
    # Draws the random failures: seed it for the same failures at the same request numbers.
    rng: random.Random = field(default_factory=random.Random)
    # Every `every_429`-th request (counting all received) answered 429 with Retry-After
    # `every_retry_after`, every `every_500`-th 500 (0: never); the 429 wins when both fall due.
    every_429: int = 0
    every_500: int = 0
    every_retry_after: float = 1.0
    received: int = 0
    hashed_vectors: bool = False
    inputs: int = 0
    notices: list[Notice] = field(default_factory=list)
    _encode_lock: threading.Lock = field(default_factory=threading.Lock)

    def requests_seen(self) -> int:
        """Every request received, whatever its answer."""
        with self._lock:
            return len(self.log)

    def record_notice(self, told: float, headers: dict[str, str]) -> None:
        """Note a 429 whose reply left at `told`, saying Retry-After in `headers`."""
        with self._lock:
            self.notices.append(Notice(told, told + float(headers["Retry-After"])))

    def early_requests(self, since: int = 0, grace: float = 0.1) -> list[tuple[Served, Notice]]:
        """Requests (from the `since`-th on) that arrived while a 429 said to stay away.

        A request arriving within `grace` seconds after a 429 left was let through before its
        client had heard of it (admitted, then on the wire), so it is not counted.
        """
        with self._lock:
            log, notices = self.log[since:], list(self.notices)
        return [
            (served, notice) for notice in notices for served in log
            if notice.told + grace < served.at < notice.until
        ]

    def handle_embeddings(
        self, body: bytes, now: float, authorization: str
    ) -> tuple[int, dict[str, str], bytes]:
        """The reply to an embeddings request that arrived at `now`."""
        try:
            request = json.loads(body)
            texts = request["input"]
            texts = [texts] if isinstance(texts, str) else [str(t) for t in texts]
        except (ValueError, KeyError, TypeError):
            return 400, {}, b'{"error": {"message": "bad request"}}'
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            return self._record(now, 401, 0, *FAILURES["401"])
        if len(texts) > self.max_inputs:
            return self._record(
                now, 413, 0, 413,
                f'{{"error": "batch size {len(texts)} > max_client_batch_size"}}'.encode(),
            )
        with self._encode_lock:  # a Rust tokenizer refuses to be used by two threads at once
            if self.hashed_vectors:
                tokens = sum(len(e.ids) for e in tokenizer().encode_batch(texts))
            else:
                tokens = sum(model().token_lengths(texts))
        with self._lock:
            self.received += 1
            failure = self._failures.popleft() if self._failures else None
            failure = failure or self._periodic_failure()
            if failure is None and self.random_429 and self.rng.random() < self.random_429:
                failure = ("429", self.random_retry_after)
            if failure is None and self.random_500 and self.rng.random() < self.random_500:
                failure = ("500", 0.0)
            if failure is None:
                wait = self._admit(now, tokens)
                if wait > 0:
                    served = Served(now, 429, tokens, "")
                    self.log.append(served)
                    self.violations.append(served)
                    return 429, {"Retry-After": f"{wait:.3f}"}, b'{"error": "rate"}'
            # A failure's kind ("500", "429", ...) is kept where the chat server keeps content.
            self.log.append(Served(now, 200 if failure is None else 0, tokens,
                                   "" if failure is None else failure[0]))
        if failure is not None:
            kind, after = failure
            if kind == "429":
                return 429, {"Retry-After": f"{after:g}"}, b'{"error": "slow down"}'
            if kind in FAILURES:
                return FAILURES[kind][0], {}, FAILURES[kind][1]
        if self.hashed_vectors:
            vectors = hashed(texts)
        else:
            with self._encode_lock:
                vectors = model().encode(texts)
        with self._lock:
            self.inputs += len(texts)
        if failure is not None and failure[0] == "wrong-dim":
            vectors = vectors[:, :100]
        if failure is not None and failure[0] == "few-vectors":
            vectors = vectors[:-1]
        reply: dict[str, Any] = {
            "object": "list",
            "model": request.get("model", MODEL),
            "data": [
                {"object": "embedding", "index": i, "embedding": [round(float(x), 6) for x in v]}
                for i, v in enumerate(vectors)
            ],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return 200, {}, json.dumps(reply).encode()

    def _periodic_failure(self) -> tuple[str, float] | None:
        """The failure the `received`-th request is due (every_429, every_500), if any."""
        if self.every_429 and self.received % self.every_429 == 0:
            return "429", self.every_retry_after
        if self.every_500 and self.received % self.every_500 == 0:
            return "500", 0.0
        return None

    def _record(
        self, now: float, status: int, tokens: int, code: int, data: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.log.append(Served(now, status, tokens, ""))
        return code, {}, data


def hashed(texts: list[str], dimension: int = 384) -> np.ndarray:
    """A unit vector per text, the same for the same text, drawn from its sha256."""
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
        row = np.random.default_rng(seed).standard_normal(dimension)
        rows.append(row / np.linalg.norm(row))
    return np.asarray(rows, dtype=np.float32)


@contextmanager
def serve_embeddings(**options: Any) -> Iterator[EmbeddingsServer]:
    """Run an EmbeddingsServer(**options) on a free 127.0.0.1 port until the block ends."""
    state = EmbeddingsServer(**options)
    if not state.hashed_vectors:
        model()  # loaded before the first request, so the first reply is not slow

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.rstrip("/") == "/v1/embeddings":
                status, extra, data = state.handle_embeddings(
                    body, time.time(), self.headers.get("Authorization", "")
                )
                time.sleep(state.latency)
            else:
                status, extra, data = 404, {}, b'{"error": "not found"}'
            if status == 429:  # before it leaves: the client hears it no earlier than this
                state.record_notice(time.time(), extra)
            self.send_body(data, "application/json", status, extra)

    with serve_http(Handler) as base_url:
        state.url = f"{base_url}/v1"
        yield state
