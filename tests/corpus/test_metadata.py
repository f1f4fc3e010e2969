"""Reading title, author, language and eBook number from the header."""

from __future__ import annotations

from corpus.metadata import BookMeta, read_header
from tests.corpus.books import MODERN, SMALL_PRINT, THIS_VARIANT


def test_modern_header_fields_are_read() -> None:
    assert read_header(MODERN) == BookMeta(
        title="A Test Book", author="Ann Author", language="English", gutenberg_id="4242"
    )


def test_ebook_number_in_capitalised_ebook_form_is_read() -> None:
    assert read_header(THIS_VARIANT).gutenberg_id == "14263"


def test_etext_number_is_read_without_a_start_marker() -> None:
    meta = read_header(SMALL_PRINT)
    assert (meta.gutenberg_id, meta.title, meta.author) == (
        "3261",
        "News from Nowhere",
        "William Morris",
    )


def test_an_indented_title_line_is_a_subtitle_and_later_lines_wrap_it() -> None:
    header = (
        "Title: Guernsey Folk Lore\n       a collection of tales,\n       customs\n\nAuthor: X\n"
    )
    assert read_header(header).title == "Guernsey Folk Lore: a collection of tales, customs"


def test_indented_author_lines_are_joined_as_a_list() -> None:
    header = "Title: T\n\nAuthor: Alexandre Dumas\n        Auguste Maquet\n\nLanguage: French\n"
    assert read_header(header).author == "Alexandre Dumas; Auguste Maquet"


def test_old_style_first_line_gives_title_and_author_when_fields_are_missing() -> None:
    header = "The Project Gutenberg EBook of Katrine, by Elinor Macartney Lane\n\nSome text.\n"
    meta = read_header(header)
    assert (meta.title, meta.author) == ("Katrine", "Elinor Macartney Lane")


def test_project_gutenbergs_first_line_form_is_understood() -> None:
    meta = read_header("Project Gutenberg's Slavery's Passed Away, by Various\n")
    assert (meta.title, meta.author) == ("Slavery's Passed Away", "Various")


def test_fields_after_the_start_marker_are_ignored() -> None:
    text = "*** START OF THE PROJECT GUTENBERG EBOOK X ***\nTitle: Not The Header\n"
    assert read_header(text).title == ""


def test_text_without_a_header_gives_empty_metadata() -> None:
    assert read_header("Just a story.\n") == BookMeta()
