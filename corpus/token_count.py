"""Counting a text's tokens as the model's tokenizer would, fast for BERT-style tokenizers.

The chunker counts every sentence of a book and then every chunk it packs; run through the Rust
tokenizer, that is about 0.5 ms of CPU per chunk, a sixth of all a chunk cost besides the model
(docs/performance.md, "What falls short"). A BERT tokenizer (WordPiece behind BertNormalizer
and BertPreTokenizer) gives each whitespace-separated word the same tokens wherever it stands:
normalising is per character and pre-tokenising cuts at whitespace first. So a text's count is
the sum of its words' counts, and books repeat their words: counting each distinct word once
and summing from a dictionary gives the same numbers for less than a quarter of the CPU
(`python -m benchmarks.chunking`).

Tokenizers with any other pipeline (byte-level BPE and SentencePiece fold the space into the next
word; other normalisers may work across characters) are counted by the tokenizer, text by text.
So are texts holding the few characters Python's `str.split` takes for whitespace where BERT's
normaliser deletes them as control characters (vertical tab, form feed, U+001C-U+001F, U+0085).
tests/corpus/test_token_count.py compares both ways on real books and on made-up hard cases.
No library offers this: `tokenizers` counts only by encoding, and a memo of word counts is
what remains once the encoding is the cost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from tokenizers import Tokenizer

__all__ = ["TokenCounter", "token_counter"]

# Whitespace to `str.split`, deleted (not spaced) by BertNormalizer's clean_text.
_SPLIT_DISAGREES = re.compile("[\x0b\x0c\x1c-\x1f\x85]")
# Distinct words kept at most; a book has tens of thousands, so a worker keeps a few books' worth.
_MAX_WORDS = 200_000
# Tokenizers whose counters are kept; a process uses one, tests a few.
_MAX_COUNTERS = 4


class TokenCounter:
    """Token counts of texts under one tokenizer, without special tokens unless asked."""

    def __init__(
        self, tokenizer: Tokenizer, *, by_words: bool = True, max_words: int = _MAX_WORDS
    ) -> None:
        self.tokenizer = tokenizer
        self.max_words = max_words
        # by_words=False counts every text with the tokenizer (the benchmark's comparison).
        self.word_additive = by_words and is_word_additive(tokenizer)
        # [CLS] and [SEP] for BERT: what an empty text becomes with its special tokens.
        self.special_tokens = len(tokenizer.encode("", add_special_tokens=True).ids)
        self._words: dict[str, int] = {}

    def count(self, texts: Sequence[str], *, special: bool = False) -> list[int]:
        """Each text's token count, plus the special tokens when `special`."""
        extra = self.special_tokens if special else 0
        if not self.word_additive:
            return [n + extra for n in self._encode(list(texts))]
        counts = []
        for text in texts:
            if _SPLIT_DISAGREES.search(text):
                counts.append(self._encode([text])[0] + extra)
            else:
                counts.append(self._sum_words(text.split()) + extra)
        return counts

    def _sum_words(self, words: list[str]) -> int:
        known = self._words
        unseen = [word for word in words if word not in known]
        if unseen:
            if len(known) + len(unseen) > self.max_words:
                # Start afresh; the words of this text that were known must be counted again.
                known.clear()
                unseen = words
            distinct = list(dict.fromkeys(unseen))
            known.update(zip(distinct, self._encode(distinct), strict=True))
        return sum(map(known.__getitem__, words))

    def _encode(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        # encode_batch_fast skips the character offsets, which a count never reads.
        encodings = self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]


def is_word_additive(tokenizer: Tokenizer) -> bool:
    """Whether the tokenizer gives a text exactly the tokens of its whitespace-separated words."""
    config = json.loads(tokenizer.to_str())
    normalizer = config.get("normalizer")
    pre_tokenizer = config.get("pre_tokenizer") or {}
    return (
        (config.get("model") or {}).get("type") == "WordPiece"
        and (normalizer is None or normalizer.get("type") == "BertNormalizer")
        and pre_tokenizer.get("type") == "BertPreTokenizer"
    )


_counters: dict[int, TokenCounter] = {}


def token_counter(tokenizer: Tokenizer) -> TokenCounter:
    """The counter of `tokenizer`, made once; its word counts carry over from book to book."""
    # Keyed by identity: the counter holds the tokenizer, so the id cannot be reused meanwhile.
    counter = _counters.get(id(tokenizer))
    if counter is None:
        if len(_counters) >= _MAX_COUNTERS:
            del _counters[next(iter(_counters))]
        counter = _counters[id(tokenizer)] = TokenCounter(tokenizer)
    return counter
