"""Stripping every Gutenberg boilerplate variant, and leaving unmarked text alone."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus.boilerplate import strip_boilerplate
from tests.corpus.books import BODY, NO_MARKERS, SMALL_PRINT, VARIANTS

BOILERPLATE = re.compile(
    r"project gutenberg|gutenberg\.org|small print|start of|end of the project|full license"
    r"|pgdp|produced by",
    re.IGNORECASE,
)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_keeps_the_body_and_nothing_else(name: str) -> None:
    stripped = strip_boilerplate(VARIANTS[name])
    assert stripped.had_markers
    assert BODY in stripped.body
    assert not BOILERPLATE.search(stripped.body)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_markers_match_in_any_letter_case(name: str) -> None:
    stripped = strip_boilerplate(VARIANTS[name].swapcase())
    assert BODY.swapcase() in stripped.body
    assert not BOILERPLATE.search(stripped.body)


def test_the_small_print_book_keeps_all_its_paragraphs_and_drops_its_last_line() -> None:
    body = strip_boilerplate(SMALL_PRINT).body
    assert body.count("A second paragraph ends here.") == 4
    assert "News from Nowhere" not in body


def test_text_without_markers_is_returned_whole() -> None:
    stripped = strip_boilerplate(NO_MARKERS)
    assert stripped.body == NO_MARKERS.strip("\n")
    assert not stripped.had_markers


def test_a_book_mentioning_the_start_of_something_is_not_cut() -> None:
    text = "He had the start of us.\n\nThe end of the day came."
    assert strip_boilerplate(text).body == text


@given(st.text(max_size=3000))
def test_any_text_strips_to_a_substring_of_it(text: str) -> None:
    stripped = strip_boilerplate(text)
    assert stripped.body in text
    if not stripped.had_markers:
        assert stripped.body == text.strip("\n")
