"""How a list of texts is cut into embeddings requests, and what each may cost, before the call.

A request carries as many inputs as the endpoint's caps allow (EMBED_MAX_INPUTS inputs and
RemoteEmbedSettings.request_token_cap tokens), so a run's request count, not its chunk count,
meets the RPM limit.

The token bound is honest without the endpoint's tokenizer: a byte-level BPE (OpenAI, most
decoder-based embedders) never makes more tokens than the text has UTF-8 bytes, a WordPiece or
SentencePiece token covers at least one character (or byte, with byte fallback), and each input
gets at most a few special tokens. The reply's `usage` replaces the bound once it arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tasks.embedding.errors import EmbedBatchTooLarge

# [CLS]/[SEP], <s>/</s>, BOS/EOS and the like, with room to spare.
SPECIAL_TOKENS_PER_INPUT = 4


@dataclass(frozen=True)
class PlannedRequest:
    """One request: the inputs `start` to `stop` (exclusive) and the most tokens they can cost."""

    start: int
    stop: int
    tokens: int


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
