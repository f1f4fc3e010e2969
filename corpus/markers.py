"""The Project Gutenberg marker lines, as patterns shared by header reading and stripping.

Each pattern matches a whole line (``re.MULTILINE``), case-insensitively, with or without
the asterisks and the spaces around them, as real files vary on all three.
"""

from __future__ import annotations

import re

__all__ = [
    "BODY_END",
    "HEADER_FIELD",
    "OLD_STYLE_FIRST_LINE",
    "SMALL_PRINT_END",
    "START",
]

_FLAGS = re.IGNORECASE | re.MULTILINE

# *** START OF THE PROJECT GUTENBERG EBOOK <T> ***, ***START OF THIS ...***, E-BOOK, ETEXT.
START = re.compile(
    r"^[ \t]*\**[ \t]*START[ \t]+OF[ \t]+(?:THE[ \t]+|THIS[ \t]+)?PROJECT[ \t]+GUTENBERG\b.*$",
    _FLAGS,
)

# The 1990s legal block ends with e.g. *END THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*...*END*.
SMALL_PRINT_END = re.compile(r"^[ \t]*\*+[ \t]*END\b.*SMALL[ \t]+PRINT.*$", _FLAGS)

# Any of these lines ends the book's text; everything from the earliest one on is boilerplate.
BODY_END = re.compile(
    r"^[ \t]*(?:"
    # *** END OF THE/THIS PROJECT GUTENBERG EBOOK <T> ***
    r"\**[ \t]*END[ \t]+OF[ \t]+(?:THE[ \t]+|THIS[ \t]+)?PROJECT[ \t]+GUTENBERG\b"
    # End of Project Gutenberg's <T>, by <A> / End of (the) Project Gutenberg EBook/Etext of ...
    r"|END[ \t]+OF[ \t]+(?:THE[ \t]+)?PROJECT[ \t]+GUTENBERG(?:'S|\u2019S)?\b"
    # *** START: FULL LICENSE *** (the modern license follows the END marker)
    r"|\**[ \t]*START:?[ \t]+FULL[ \t]+LICEN[SC]E\b"
    # ***START**THE SMALL PRINT!** and its heading, when the legal block trails the text
    r"|\**[ \t]*START\**[ \t]*THE[ \t]+SMALL[ \t]+PRINT"
    r"|\**[ \t]*THE[ \t]+LEGAL[ \t]+SMALL[ \t]+PRINT[ \t]*\**[ \t]*$"
    r").*$",
    _FLAGS,
)

# Labelled lines of the header block (Title:, Author:, Release Date:, ...).
HEADER_FIELD = re.compile(
    r"^(?P<key>title|author|editor|translator|illustrator|contributor|release[ \t]+date"
    r"|posting[ \t]+date|first[ \t]+posted|last[ \t]+updated|edition|language"
    r"|character[ \t]+set[ \t]+encoding|credits|produced[ \t]+by)[ \t]*:[ \t]*(?P<value>.*)$",
    _FLAGS,
)

# "The Project Gutenberg EBook of <T>, by <A>", "Project Gutenberg's <T>, by <A>",
# "The Project Gutenberg eBook, <T>, by <A>", "Project Gutenberg Etext of <T>, by <A>".
OLD_STYLE_FIRST_LINE = re.compile(
    r"^[ \t]*(?:the[ \t]+)?project[ \t]+gutenberg(?:'s|\u2019s)?[ \t]*"
    r"(?:e-?book|etext|e-text)?[ \t]*,?[ \t]*(?:of[ \t]+)?(?P<rest>\S.*?)[ \t]*$",
    re.IGNORECASE,
)
