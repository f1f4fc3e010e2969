"""Splitting text into paragraphs and sentences, the units chunks are packed from."""

from __future__ import annotations

import re

__all__ = ["paragraphs", "sentences"]

# A paragraph break is one or more lines holding nothing but whitespace.
_PARAGRAPH_BREAK = re.compile(r"\n(?:[^\S\n]*\n)+")
# A sentence ends at . ! ? or … (possibly followed by a closing quote or bracket) and a space.
# Two fixed-width look-behinds because Python's look-behind cannot vary in width.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?\u2026]) +|(?<=[.!?\u2026][\"'\u201d\u2019)\]]) +")


def paragraphs(text: str) -> list[str]:
    """Paragraphs separated by blank lines, each with its hard-wrapped lines joined by spaces."""
    result = []
    for block in _PARAGRAPH_BREAK.split(text):
        joined = " ".join(block.split())
        if joined:
            result.append(joined)
    return result


def sentences(paragraph: str) -> list[str]:
    """The sentences of a whitespace-normalised paragraph; joined by spaces they rebuild it."""
    return [part for part in _SENTENCE_BREAK.split(paragraph) if part]
