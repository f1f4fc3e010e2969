"""Deciding whether one retrieved chunk answers a question.

A chunk answers when its id is one of the question's ``chunk_ids``, or when its text holds
the question's answer quote. Text is compared after normalising case, whitespace (line wraps,
paragraph joins) and typographic quotes and dashes, because the chunker joins lines and a
person typing a quote from a printed page writes straight quotes and hyphens.

A quote may straddle two neighbouring chunks. The chunker cuts between sentences (or, inside
an over-long sentence, between words) and repeats only whole trailing sentences that fit in
the overlap (32 tokens by default), so a quote running across a cut can be held whole by
neither chunk. Such a chunk still counts when all of these hold:

- it is from the question's book (a question without a book needs the whole quote);
- the quote is cut at the chunk's edge: the chunk ends with the quote's first words or
  begins with its last words. A cut is the only way a chunk of a couple of hundred tokens
  can hold part of a quote of at most a few dozen words, and tying the part to the edge
  keeps a common phrase elsewhere in the book from counting;
- the part is at least half of the quote's words, and at least ``MIN_PART_WORDS``. A reader
  shown that chunk sees most of the answer; of two chunks sharing a quote, the one holding
  the smaller piece does not count (both do only at an exact half), so a question is never
  found by a sliver.

At the edge, words are compared by their letters and digits only: the segmenter may leave a
closing quote mark or bracket on either side of a cut.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from pipeline.eval.questions import Question

__all__ = ["MIN_PART_WORDS", "Retrieved", "answers", "normalise"]

# Below this many words a shared fragment ("and then he said") proves nothing.
MIN_PART_WORDS = 4


@dataclass(frozen=True)
class Retrieved:
    """One chunk a search returned: its id, its text and the book it came from."""

    id: str
    text: str
    book_id: str


# Typographic quotes and dashes, as printed books have them, to what a person types.
_TYPOGRAPHIC = str.maketrans(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark, also the apostrophe in most books
        "\u201a": "'",  # single low-9 quotation mark
        "\u201b": "'",  # single high-reversed-9 quotation mark
        "\u2032": "'",  # prime
        "\u201c": '"',  # left double quotation mark
        "\u201d": '"',  # right double quotation mark
        "\u201e": '"',  # double low-9 quotation mark
        "\u201f": '"',  # double high-reversed-9 quotation mark
        "\u2033": '"',  # double prime
        "\u00ab": '"',  # guillemets, as French and German books print quotations
        "\u00bb": '"',
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2015": "-",  # horizontal bar
        "\u2212": "-",  # minus sign
    }
)


def normalise(text: str) -> str:
    """Text folded for comparison: lower case, plain quotes and dashes, single spaces."""
    return " ".join(text.translate(_TYPOGRAPHIC).casefold().split())


def answers(question: Question, chunk: Retrieved) -> bool:
    """Whether ``chunk`` answers ``question`` by id, by the whole quote, or by a cut quote."""
    if chunk.id in question.chunk_ids:
        return True
    if question.answer is None:
        return False
    quote = normalise(question.answer)
    text = normalise(chunk.text)
    if quote in text:
        return True
    if question.book is None or question.book != chunk.book_id:
        return False
    return _edge_part_words(quote, text) >= _part_needed(quote)


def _part_needed(quote: str) -> int:
    """Words of the quote a chunk must hold at its edge to count."""
    return max(MIN_PART_WORDS, math.ceil(len(quote.split()) / 2))


def _edge_part_words(quote: str, text: str) -> int:
    """The most quote words the chunk holds at a cut: its tail is the quote's head, or
    its head is the quote's tail."""
    quote_words = _word_keys(quote)
    text_words = _word_keys(text)
    longest = 0
    for size in range(1, min(len(quote_words), len(text_words)) + 1):
        if text_words[-size:] == quote_words[:size] or text_words[:size] == quote_words[-size:]:
            longest = size
    return longest


# Everything but letters and digits: the quote marks and brackets a cut may leave on a word.
_NOT_WORD = re.compile(r"[\W_]+")


def _word_keys(text: str) -> list[str]:
    """The words of normalised text reduced to letters and digits; pure punctuation dropped."""
    keys = (_NOT_WORD.sub("", word) for word in text.split())
    return [key for key in keys if key]
