"""The sliding-window limit kept in Redis and decided by one Lua script, for every process.

The LLM stage and remote embedding (tasks.embedding.remote) both use it, each under its own
prefix. Key layout, for a limit named <name> (LLMSettings.limit_key or
RemoteEmbedSettings.limit_key: one per endpoint and model unless named) and the prefix <p>
(ragmill:llm:limit, or ragmill:embed:limit):

    <p>:<name>:log               zset    member "<ticket id>|<tokens>", score = the time
                                         from which the entry counts (see window.py)
    <p>:<name>:paused            string  Redis time (seconds) before which nobody is admitted
    <p>:<name>:per_byte          string  the most tokens a byte of text has cost in any reply
                                         (embeddings reserve by it: tasks/embedding/batching.py)

Times are Redis's own clock (TIME), so workers on machines whose clocks disagree still share one
window. Tests may pass `now` explicitly to compare the script with window.py step by step.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import Any, cast

import redis

from tasks.endpoint.errors import AdmissionTimeout, RequestTooLarge
from tasks.endpoint.ratelimit.window import Entry, Limits, Ticket

PREFIX = "ragmill:llm:limit"

# Shared by the scripts below: `now` from ARGV, or Redis's clock when ARGV is empty.
_CLOCK = """
local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

# Admits one request if the window has room for it (window.py's admission_wait, in Lua).
# KEYS: [1] log zset, [2] paused string
# ARGV: [1] now ('' = Redis TIME), [2] window seconds, [3] max requests, [4] max tokens,
#       [5] tokens this request reserves, [6] ticket id, [7] hold seconds (longest call)
# Returns: {1, '0'} admitted; {0, wait} not yet, wait in seconds as a string;
#          {-1, '0'} the request alone exceeds max tokens.
ADMIT = _CLOCK + """
local window = tonumber(ARGV[2])
local max_req = tonumber(ARGV[3])
local max_tok = tonumber(ARGV[4])
local cost = tonumber(ARGV[5])
if cost > max_tok then return {-1, '0'} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.6f', now - window))
local wait = 0
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then wait = paused - now end
local log = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local n = #log / 2
if n >= max_req then
  local at = tonumber(log[(n - max_req) * 2 + 2])
  wait = math.max(wait, at + window - now)
end
local total = 0
for i = 1, #log, 2 do total = total + tonumber(string.match(log[i], '|(%d+)$')) end
if total + cost > max_tok then
  local freed = 0
  for i = 1, #log, 2 do
    freed = freed + tonumber(string.match(log[i], '|(%d+)$'))
    if total - freed + cost <= max_tok then
      wait = math.max(wait, tonumber(log[i + 1]) + window - now)
      break
    end
  end
end
if wait > 0 then return {0, string.format('%.6f', wait)} end
local hold = tonumber(ARGV[7])
redis.call('ZADD', KEYS[1], string.format('%.6f', now + hold), ARGV[6] .. '|' .. ARGV[5])
redis.call('PEXPIRE', KEYS[1], math.ceil((window + hold + 1) * 1000))
return {1, '0'}
"""

# Re-dates an admitted request to now (its reply arrived) with the tokens it really cost.
# KEYS: [1] log zset
# ARGV: [1] now ('' = Redis TIME), [2] member as admitted, [3] member with the real tokens
# Returns: 1 settled, 0 the entry was already gone.
SETTLE = _CLOCK + """
if redis.call('ZREM', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], string.format('%.6f', now), ARGV[3])
return 1
"""

# Pauses admission for everyone, never shortening a pause already set.
# KEYS: [1] paused string
# ARGV: [1] now ('' = Redis TIME), [2] seconds
# Returns: the pause's end in Redis time, as a string.
PAUSE = _CLOCK + """
local until_ = now + tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current > until_ then until_ = current end
redis.call('SET', KEYS[1], string.format('%.6f', until_),
           'PX', math.ceil((until_ - now + 1) * 1000))
return string.format('%.6f', until_)
"""

# Raises the learned tokens per byte to a reply's figure, never lowering it.
# KEYS: [1] per_byte string
# ARGV: [1] tokens per byte a reply showed
# Returns: the value kept, as a string.
RAISE = """
local seen = tonumber(ARGV[1])
local kept = tonumber(redis.call('GET', KEYS[1]) or '0')
if seen > kept then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
return tostring(kept)
"""


__all__ = ["AdmissionTimeout", "RedisLimiter", "RequestTooLarge"]


class RedisLimiter:
    """Admits requests against one limit shared through Redis (key layout above).

    `what` names the requests and `advice` says what to change when one alone is too large for
    the window, in the one-line errors a person reads.
    """

    def __init__(
        self,
        client: redis.Redis,
        name: str,
        limits: Limits,
        *,
        hold: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        prefix: str = PREFIX,
        what: str = "LLM",
        advice: str = "raise LLM_TPM or lower LLM_MAX_TOKENS",
    ) -> None:
        self.client = client
        self.limits = limits
        self.hold = hold
        self.log_key = f"{prefix}:{name}:log"
        self.paused_key = f"{prefix}:{name}:paused"
        self.per_byte_key = f"{prefix}:{name}:per_byte"
        self.what = what
        self.advice = advice
        self._sleep = sleep
        self._clock = clock
        self._admit = client.register_script(ADMIT)
        self._settle = client.register_script(SETTLE)
        self._pause = client.register_script(PAUSE)
        self._raise = client.register_script(RAISE)

    def try_admit(self, tokens: int, now: float | None = None) -> tuple[Ticket | None, float]:
        """One attempt: (ticket, 0.0) if admitted, else (None, seconds to wait)."""
        ticket = Ticket(uuid.uuid4().hex, int(tokens))
        status, wait = cast(
            list[Any],
            self._admit(
                keys=[self.log_key, self.paused_key],
                args=[
                    _now(now),
                    self.limits.window,
                    self.limits.requests,
                    self.limits.tokens,
                    ticket.tokens,
                    ticket.id,
                    self.hold,
                ],
            ),
        )
        if int(status) == -1:
            raise RequestTooLarge(
                f"one {self.what} request needs up to {ticket.tokens} tokens but the limit "
                f"allows {self.limits.tokens} per window; {self.advice}"
            )
        if int(status) == 1:
            return ticket, 0.0
        return None, float(wait)

    def acquire(self, tokens: int, deadline: float | None = None) -> Ticket:
        """Wait in this thread until a request of `tokens` is admitted; its Ticket.

        Waiting in place (instead of a Celery retry with a countdown) keeps no pile of ETA
        messages in worker memory; each sleep is short, so a re-dated entry or a lifted pause
        is noticed soon. Raises AdmissionTimeout when `deadline` (time.monotonic) would pass.
        """
        while True:
            ticket, wait = self.try_admit(tokens)
            if ticket is not None:
                return ticket
            if deadline is not None and self._clock() + wait > deadline:
                raise AdmissionTimeout(
                    f"the {self.what} rate limit admits nothing for {wait:.1f} s, past this "
                    "task's budget",
                    wait,
                )
            # In-flight entries are dated ahead and settle early, so long waits are re-checked
            # at least every `poll` seconds; the jitter spreads threads that wake together.
            poll = min(1.0, max(0.05, self.limits.window / 20))
            self._sleep(min(wait, poll) + random.uniform(0, 0.01))

    def settle(self, ticket: Ticket, tokens: int, now: float | None = None) -> bool:
        """Record that `ticket`'s reply arrived now and really cost `tokens`."""
        return bool(
            self._settle(
                keys=[self.log_key],
                args=[_now(now), f"{ticket.id}|{ticket.tokens}", f"{ticket.id}|{int(tokens)}"],
            )
        )

    def pause(self, seconds: float, now: float | None = None) -> float:
        """Admit nobody, in any process, for `seconds`; returns the pause's end (Redis time)."""
        return float(
            cast(str, self._pause(keys=[self.paused_key], args=[_now(now), max(0.0, seconds)]))
        )

    def per_byte(self) -> float | None:
        """The most tokens a byte of text has cost in any reply under this limit, if known."""
        kept = self.client.get(self.per_byte_key)
        return None if kept is None else float(cast(bytes, kept))

    def learn_per_byte(self, seen: float) -> None:
        """A reply cost `seen` tokens per byte: keep it if it is the most yet, for everyone."""
        self._raise(keys=[self.per_byte_key], args=[f"{seen:.6f}"])

    def entries(self) -> list[Entry]:
        """The entries in Redis now, oldest first (for tests and `ragmill status`-like views)."""
        raw = cast(list[Any], self.client.zrange(self.log_key, 0, -1, withscores=True))
        out = []
        for member, score in raw:
            text = member.decode() if isinstance(member, bytes) else str(member)
            out.append(Entry(float(score), int(text.rsplit("|", 1)[1])))
        return out

    def reset(self) -> None:
        """Forget every entry, pause and learned cost of this limit."""
        self.client.delete(self.log_key, self.paused_key, self.per_byte_key)


def _now(now: float | None) -> str:
    return "" if now is None else f"{now:.6f}"
