"""How a list of texts is cut into embeddings requests, and what each may cost, before the call.

A request carries as many inputs as the endpoint's caps allow (EMBED_MAX_INPUTS inputs and
RemoteEmbedSettings.request_token_cap tokens), so a run's request count, not its chunk count,
meets the RPM limit.

The token bound is honest without the endpoint's tokenizer: a byte-level BPE (OpenAI, most
decoder-based embedders) never makes more tokens than the text has UTF-8 bytes, a WordPiece or
SentencePiece token covers at least one character (or byte, with byte fallback), and each input
gets at most a few special tokens. The reply's `usage` replaces the bound once it arrives.

The bound is loose, about 4.5 bytes per token of English, and a request is admitted only where
its reservation fits beside what the window holds: reserving the bound, only EMBED_TPM less one
bound is ever used, a fifth of a tight limit whose window holds a few requests. So a request
reserves its bound only until replies have said what the endpoint's tokenizer makes of text
(`tokens_per_byte`, kept with the shared limit); then it reserves what a byte of text has cost
at most, with a margin (`reservation`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tasks.embedding.errors import EmbedBatchTooLarge

# [CLS]/[SEP], <s>/</s>, BOS/EOS and the like, with room to spare.
SPECIAL_TOKENS_PER_INPUT = 4
# Reserved above the most tokens a byte of text has cost so far: requests of other text may
# cost a little more per byte than any seen yet.
ESTIMATE_MARGIN = 0.15
# A reply teaches the estimate only when its request held at least this many bytes of text:
# a few words are mostly special tokens and say little about a byte's cost.
ESTIMATE_MIN_BYTES = 256


@dataclass(frozen=True)
class PlannedRequest:
    """One request: the inputs `start` to `stop` (exclusive) and the most tokens they can cost."""

    start: int
    stop: int
    tokens: int

    @property
    def text_bytes(self) -> int:
        """The UTF-8 bytes of the inputs: the bound without its special tokens."""
        return self.tokens - SPECIAL_TOKENS_PER_INPUT * (self.stop - self.start)


def reservation(request: PlannedRequest, per_byte: float | None) -> int:
    """Tokens `request` reserves before it is sent: its bound while the endpoint's tokens per
    byte are unknown (`per_byte` None), else its bytes at that rate plus ESTIMATE_MARGIN, plus
    its special tokens, never more than the bound.

    A request that costs more is charged its real usage when it settles; the window then waits
    longer, and if the endpoint counted first, its 429 pauses everyone.
    """
    if per_byte is None:
        return request.tokens
    specials = request.tokens - request.text_bytes
    guess = math.ceil(request.text_bytes * per_byte * (1 + ESTIMATE_MARGIN)) + specials
    return min(request.tokens, guess)


def tokens_per_byte(request: PlannedRequest, used: int) -> float | None:
    """What `request`'s reply (`used` tokens) says a byte of text costs, beyond its special
    tokens; None when the request held too little text to say (ESTIMATE_MIN_BYTES)."""
    if request.text_bytes < ESTIMATE_MIN_BYTES:
        return None
    inputs = request.stop - request.start
    return max(0, used - SPECIAL_TOKENS_PER_INPUT * inputs) / request.text_bytes


def token_bound(text: str) -> int:
    """Tokens `text` can become at most, in any endpoint's tokenizer."""
    return len(text.encode("utf-8")) + SPECIAL_TOKENS_PER_INPUT


def plan_requests(
    texts: Sequence[str], *, max_inputs: int, max_tokens: int, endpoint: str = "the endpoint"
) -> list[PlannedRequest]:
    """Consecutive requests covering `texts`, each as large as `max_inputs` and `max_tokens` allow.

    Raises EmbedBatchTooLarge when one text alone could cost more than `max_tokens`.
    """
    planned: list[PlannedRequest] = []
    start, tokens = 0, 0
    for i, text in enumerate(texts):
        cost = token_bound(text)
        if cost > max_tokens:
            raise EmbedBatchTooLarge(
                f"{endpoint}: one chunk may cost {cost} tokens, more than one request may "
                f"reserve ({max_tokens}: EMBED_MAX_REQUEST_TOKENS, at most EMBED_TPM); lower "
                "RAGMILL_CHUNK_TOKENS or raise EMBED_TPM"
            )
        if i > start and (i - start >= max_inputs or tokens + cost > max_tokens):
            planned.append(PlannedRequest(start, i, tokens))
            start, tokens = i, 0
        tokens += cost
    if start < len(texts):
        planned.append(PlannedRequest(start, len(texts), tokens))
    return planned
