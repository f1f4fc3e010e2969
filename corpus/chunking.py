"""Cutting a book's text into chunks that never exceed the embedding model's token window.

Text is split into paragraphs, paragraphs into sentences; a sentence longer than the
budget is split into runs of words, and a word longer than the budget into token pieces.
The units are packed greedily up to the budget, and each chunk may repeat the trailing
whole sentences of the one before it (the overlap) so no sentence loses its context.

Token counts come from corpus.token_count (one batch over all units, or for BERT tokenizers a
sum of remembered word counts), which is what makes a 1 MB book chunk in a fraction of a
second; the final chunks are counted once more to record their exact length with special tokens
and to re-split any that a non-additive tokenizer pushed over the window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from tokenizers import Tokenizer

from corpus.formats.document import Part, Section
from corpus.segment import paragraphs, sentences
from corpus.token_count import token_counter

__all__ = ["Chunk", "ChunkConfig", "chunk_id", "chunk_sections", "chunk_text"]

# [CLS] and [SEP] take two of the window's positions.
_SPECIAL_TOKENS = 2
_MIN_TOKENS = 16
_PARAGRAPH_SEP = "\n\n"
_WORD_SEP = " "


@dataclass(frozen=True, kw_only=True)
class ChunkConfig:
    """How large chunks may be, in tokens of the embedding model."""

    max_tokens: int = 200
    overlap_tokens: int = 32
    window: int = 256

    def __post_init__(self) -> None:
        if self.window - _SPECIAL_TOKENS < _MIN_TOKENS:
            raise ValueError(
                f"window={self.window} is too small: it must leave at least {_MIN_TOKENS} tokens "
                f"after the model's {_SPECIAL_TOKENS} special tokens"
            )
        if self.max_tokens < _MIN_TOKENS:
            raise ValueError(
                f"max_tokens={self.max_tokens} is too small; use at least {_MIN_TOKENS}"
            )
        if not 0 <= self.overlap_tokens < self.budget / 2:
            raise ValueError(
                f"overlap_tokens={self.overlap_tokens} must be at least 0 and under half of "
                f"the chunk budget ({self.budget} tokens)"
            )

    @property
    def budget(self) -> int:
        """Content tokens a chunk may hold: max_tokens, capped by the window minus specials."""
        return min(self.max_tokens, self.window - _SPECIAL_TOKENS)


@dataclass(frozen=True)
class Chunk:
    """One piece of a book, small enough to embed whole."""

    id: str
    book_id: str
    position: int
    text: str
    n_tokens: int
    # The chapter or section title the chunk lies in ("" when the book has none).
    chapter: str = ""
    # First and last printed page the chunk's text comes from (PDF only).
    pages: tuple[int, int] | None = None


@dataclass(frozen=True)
class _Unit:
    """A packable piece of text: a sentence, a run of words or a piece of a word."""

    text: str
    tokens: int
    # What joins this unit to the one before it when both land in one chunk.
    sep: str
    # Only whole sentences are carried over as overlap; fragments would read badly.
    whole_sentence: bool
    page: int | None = None


def chunk_id(book_id: str, position: int, text: str) -> str:
    """A deterministic id: the same text at the same place always gets the same id."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"{book_id}:{position:05d}:{digest}"


def chunk_text(
    text: str, *, book_id: str, tokenizer: Tokenizer, config: ChunkConfig
) -> list[Chunk]:
    """Split ``text`` into ordered chunks of at most ``config.budget`` content tokens."""
    return chunk_sections(
        [Section("", (Part(text),))], book_id=book_id, tokenizer=tokenizer, config=config
    )


def chunk_sections(
    sections: Sequence[Section], *, book_id: str, tokenizer: Tokenizer, config: ChunkConfig
) -> list[Chunk]:
    """Chunk each section on its own (no chunk straddles two), numbering positions across all."""
    chunks: list[Chunk] = []
    for section in sections:
        units = _units(section.parts, tokenizer, config.budget)
        groups = _pack(units, config.budget, config.overlap_tokens)
        fitted = _fit_window(
            [(_join(group), _page_span(group)) for group in groups], tokenizer, config.window
        )
        for text, n_tokens, pages in fitted:
            position = len(chunks)
            chunks.append(
                Chunk(
                    id=chunk_id(book_id, position, text),
                    book_id=book_id,
                    position=position,
                    text=text,
                    n_tokens=n_tokens,
                    chapter=section.title,
                    pages=pages,
                )
            )
    return chunks


def _page_span(group: list[_Unit]) -> tuple[int, int] | None:
    pages = [unit.page for unit in group if unit.page is not None]
    return (min(pages), max(pages)) if pages else None


def _units(parts: Sequence[Part], tokenizer: Tokenizer, budget: int) -> list[_Unit]:
    """Sentences of every paragraph, with over-long ones broken down to fit the budget."""
    pieces: list[tuple[str, str, int | None]] = []
    for part in parts:
        for number, paragraph in enumerate(paragraphs(part.text)):
            first_sep = _WORD_SEP if number == 0 and part.joins_previous else _PARAGRAPH_SEP
            for index, sentence in enumerate(sentences(paragraph)):
                pieces.append((sentence, first_sep if index == 0 else _WORD_SEP, part.page))
    counts = _count(tokenizer, [sentence for sentence, _, _ in pieces])
    units: list[_Unit] = []
    for (sentence, sep, page), tokens in zip(pieces, counts, strict=True):
        if tokens <= budget:
            units.append(_Unit(sentence, tokens, sep, whole_sentence=True, page=page))
        else:
            units.extend(_split_sentence(sentence, sep, tokenizer, budget, page))
    return units


def _split_sentence(
    sentence: str, sep: str, tokenizer: Tokenizer, budget: int, page: int | None
) -> list[_Unit]:
    """Runs of whole words within the budget; words over it become token pieces."""
    words = sentence.split(" ")
    counts = _count(tokenizer, words)
    units: list[_Unit] = []
    run: list[str] = []
    run_tokens = 0
    run_sep = sep

    def flush() -> None:
        nonlocal run, run_tokens, run_sep
        if run:
            units.append(_Unit(" ".join(run), run_tokens, run_sep, False, page))
            run, run_tokens, run_sep = [], 0, _WORD_SEP

    for word, tokens in zip(words, counts, strict=True):
        if tokens > budget:
            flush()
            units.extend(_split_word(word, run_sep, tokenizer, budget, page))
            run_sep = _WORD_SEP
            continue
        if run_tokens + tokens > budget:
            flush()
        run.append(word)
        run_tokens += tokens
    flush()
    return units


def _split_word(
    word: str, sep: str, tokenizer: Tokenizer, budget: int, page: int | None
) -> list[_Unit]:
    """Cut a word at token boundaries into pieces of at most ``budget`` tokens."""
    offsets = tokenizer.encode(word, add_special_tokens=False).offsets
    units: list[_Unit] = []
    start = 0
    for first in range(0, len(offsets), budget):
        group = offsets[first : first + budget]
        end = group[-1][1] if first + budget < len(offsets) else len(word)
        if end > start:
            # Pieces after the first continue the word, so nothing joins them.
            units.append(_Unit(word[start:end], len(group), sep if start == 0 else "", False, page))
        start = end
    return units


def _pack(units: list[_Unit], budget: int, overlap: int) -> list[list[_Unit]]:
    """Greedily fill chunks; start each with the previous chunk's trailing sentences."""
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    current_tokens = 0
    carried = 0  # how many units at the head of ``current`` repeat the previous chunk
    for unit in units:
        if current_tokens + unit.tokens > budget and len(current) > carried:
            groups.append(current)
            current = _overlap(current, overlap)
            current_tokens = sum(u.tokens for u in current)
            # The carry must never crowd out new text, or chunks would repeat forever.
            while current and current_tokens + unit.tokens > budget:
                current_tokens -= current.pop(0).tokens
            carried = len(current)
        current.append(unit)
        current_tokens += unit.tokens
    if len(current) > carried:
        groups.append(current)
    return groups


def _overlap(group: list[_Unit], overlap: int) -> list[_Unit]:
    """The trailing whole sentences of ``group`` that fit in ``overlap`` tokens."""
    if overlap <= 0:
        # Without this, sentences the tokenizer drops entirely (0 tokens) would repeat.
        return []
    carry: list[_Unit] = []
    total = 0
    for unit in reversed(group):
        if not unit.whole_sentence or total + unit.tokens > overlap:
            break
        carry.insert(0, unit)
        total += unit.tokens
    if len(carry) == len(group):
        # Repeating a whole chunk adds nothing; keep only what follows its first unit.
        carry = carry[1:]
    return carry


def _join(group: list[_Unit]) -> str:
    """The text of a chunk, keeping paragraph breaks and word joins."""
    return "".join(
        unit.text if index == 0 else unit.sep + unit.text for index, unit in enumerate(group)
    )


def _fit_window(
    chunks: list[tuple[str, tuple[int, int] | None]], tokenizer: Tokenizer, window: int
) -> list[tuple[str, int, tuple[int, int] | None]]:
    """Each chunk with its real length (special tokens included), re-split if over the window.

    Unit counts add up exactly for BERT-style tokenizers, which split on whitespace first;
    other tokenizers may merge across unit boundaries, and this is the guard for them.
    """
    texts = [text for text, _ in chunks]
    result: list[tuple[str, int, tuple[int, int] | None]] = []
    for (text, pages), length in zip(chunks, _count(tokenizer, texts, special=True), strict=True):
        if length <= window:
            result.append((text, length, pages))
        else:
            result.extend(
                (part, n, pages) for part, n in _halve_until_fits(text, tokenizer, window)
            )
    return result


def _halve_until_fits(text: str, tokenizer: Tokenizer, window: int) -> list[tuple[str, int]]:
    """Split ``text`` near its middle (at a space when there is one) until each part fits."""
    length = len(tokenizer.encode(text).ids)
    if length <= window or len(text) <= 1:
        return [(text, length)]
    middle = len(text) // 2
    cut = text.rfind(" ", 0, middle)
    if cut <= 0:
        cut = middle
    head, tail = text[:cut].rstrip(), text[cut:].lstrip()
    if not head or not tail:
        head, tail = text[:middle], text[middle:]
    return _halve_until_fits(head, tokenizer, window) + _halve_until_fits(tail, tokenizer, window)


def _count(tokenizer: Tokenizer, texts: list[str], *, special: bool = False) -> list[int]:
    """Token counts of ``texts``, with the special tokens when ``special``."""
    return token_counter(tokenizer).count(texts, special=special)
