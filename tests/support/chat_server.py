"""A local OpenAI-compatible chat server that counts what it serves (bench-llm and tests).

It serves POST /v1/chat/completions on a free 127.0.0.1 port, in a thread, and keeps its own
sliding-window count of requests and tokens, as a provider does. A request that would take it
over its limit is a *violation*: it is answered 429 with `Retry-After` and recorded. It can be
told to fail: the next N requests answered 500, 429 (with a chosen Retry-After), or bad JSON, and
every reply delayed.

Tokens are counted like a provider's usage: prompt tokens are ceil(characters / 4) plus 4 per
message, completion tokens are the words of the reply (at most max_tokens).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pipeline.bench.local_http import QuietHandler, serve_http


@dataclass
class Served:
    """One request as the server saw it."""

    at: float
    status: int
    tokens: int
    content: str


@dataclass
class LLMServer:
    """State and controls of a running server (times are time.time())."""

    url: str = ""
    rpm: int = 1_000_000
    tpm: int = 1_000_000_000
    window: float = 60.0
    latency: float = 0.0
    log: list[Served] = field(default_factory=list)
    violations: list[Served] = field(default_factory=list)
    _failures: deque[tuple[str, float]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, n: int, kind: str, retry_after: float = 1.0) -> None:
        """Answer the next `n` requests with `kind`: '500', '429', '429-ms', '429-date', 'bad-json',
        'no-choices'."""
        with self._lock:
            self._failures.extend([(kind, retry_after)] * n)

    def accepted(self) -> list[Served]:
        with self._lock:
            return [s for s in self.log if s.status == 200]

    def max_in_window(self) -> tuple[int, int]:
        """Most requests and tokens answered 200 within any `window` seconds."""
        served = sorted(self.accepted(), key=lambda s: s.at)
        best_n = best_t = 0
        start = 0
        tokens = 0
        for end, s in enumerate(served):
            tokens += s.tokens
            while s.at - served[start].at >= self.window:
                tokens -= served[start].tokens
                start += 1
            best_n = max(best_n, end - start + 1)
            best_t = max(best_t, tokens)
        return best_n, best_t

    def _admit(self, now: float, tokens: int) -> float:
        """0.0 if a request of `tokens` fits the window now, else seconds until it would.

        Requests are stamped on arrival but reach this check in the order their threads get
        the lock, so the log may hold a request stamped after `now`: it is left out, since
        counting it would judge a span longer than one window. Nothing is missed by that:
        `max_in_window` checks every window afterwards.
        """
        live = sorted(
            (s for s in self.log if s.status == 200 and now - self.window < s.at <= now),
            key=lambda s: s.at,
        )
        wait = 0.0
        if len(live) + 1 > self.rpm:
            wait = live[len(live) - self.rpm].at + self.window - now
        total = sum(s.tokens for s in live)
        if total + tokens > self.tpm:
            freed = 0
            for s in live:
                freed += s.tokens
                if total - freed + tokens <= self.tpm:
                    wait = max(wait, s.at + self.window - now)
                    break
        return wait

    def handle(self, body: bytes, now: float) -> tuple[int, dict[str, str], bytes]:
        """The reply to a request that arrived at `now`."""
        try:
            request = json.loads(body)
            messages = request["messages"]
            max_tokens = int(request.get("max_tokens") or 256)
            content = " ".join(str(m.get("content", "")) for m in messages)
        except (ValueError, KeyError, TypeError):
            return 400, {}, b'{"error": {"message": "bad request"}}'
        prompt_tokens = math.ceil(len(content) / 4) + 4 * len(messages)
        # Echo the first source labels such as [84:12] a prompt offers, as an answer citing them.
        last = str(messages[-1].get("content", "")) if messages else ""
        labels = re.findall(r"\[[^\[\]\s]+:\d+\]", last)[:2]
        words = ["Context:", *content.split()[:12], *labels]
        answer = " ".join(words[-max_tokens:] if labels else words[:max_tokens])
        completion_tokens = len(answer.split())
        tokens = prompt_tokens + completion_tokens
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
            if failure is None:
                wait = self._admit(now, tokens)
                if wait > 0:
                    served = Served(now, 429, tokens, content)
                    self.log.append(served)
                    self.violations.append(served)
                    return 429, {"Retry-After": f"{math.ceil(wait)}"}, b'{"error": "rate"}'
            self.log.append(Served(now, 200 if failure is None else 0, tokens, content))
        if failure is not None:
            kind, after = failure
            if kind == "500":
                return 500, {}, b'{"error": {"message": "boom"}}'
            if kind == "429":
                return 429, {"Retry-After": f"{after:g}"}, b'{"error": "slow down"}'
            if kind == "429-ms":
                return 429, {"retry-after-ms": f"{after * 1000:.0f}"}, b'{"error": "slow down"}'
            if kind == "429-date":
                from email.utils import formatdate

                return 429, {"Retry-After": formatdate(now + after, usegmt=True)}, b"{}"
            if kind == "bad-json":
                return 200, {}, b"<html>not json</html>"
            if kind == "no-choices":
                return 200, {}, b'{"choices": []}'
            raise ValueError(kind)
        reply: dict[str, Any] = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": tokens,
            },
        }
        return 200, {}, json.dumps(reply).encode()


@contextmanager
def serve_llm(**limits: Any) -> Iterator[LLMServer]:
    """Run an LLMServer(**limits) on a free 127.0.0.1 port until the block ends."""
    state = LLMServer(**limits)

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            arrived = time.time()
            headers: dict[str, str]
            if self.path.rstrip("/") != "/v1/chat/completions":
                status, headers, data = 404, {}, b'{"error": "not found"}'
            else:
                status, headers, data = state.handle(body, arrived)
                if state.latency:
                    time.sleep(state.latency)
            self.send_body(data, "application/json", status, headers)

    with serve_http(Handler) as base_url:
        state.url = f"{base_url}/v1"
        yield state
