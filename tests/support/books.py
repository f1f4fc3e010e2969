"""Small synthetic Gutenberg books with distinct subjects, so a query can tell them apart."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from corpus.book import prepare_book
from corpus.chunking import ChunkConfig
from corpus.tokens import load_tokenizer, model_window
from tasks.settings import default_model

SUBJECTS: dict[str, tuple[str, str, list[str]]] = {
    "1001": (
        "The Whaling Voyage",
        "Ishmael Testwright",
        [
            "The harpooner stood at the bow of the whaleboat and watched the sperm whale breach.",
            "Salt spray washed over the deck as the ship chased the great white whale south.",
            "The captain swore that the leviathan had taken his leg off Cape Horn.",
            "Barrels of whale oil were stowed below deck for the long voyage home to Nantucket.",
            "The crew lowered three boats when the lookout cried that the whale had spouted.",
            "Rope burned through the oarsman's hands as the harpooned whale sounded into the deep.",
        ],
    ),
    "1002": (
        "A Garden of Roses",
        "Rosa Greenleaf",
        [
            "The gardener pruned the climbing roses back to three buds before the spring frost.",
            "Compost and well rotted manure were dug into the rose beds every autumn.",
            "Aphids gathered on the young shoots until the ladybirds came to eat them.",
            "The damask roses bloomed in June and filled the walled garden with their scent.",
            "She took cuttings from the old tea rose and rooted them in sandy soil under glass.",
            "Mulching the roots kept the soil cool and moist through the dry summer weeks.",
        ],
    ),
    "1003": (
        "Engines of the Railway",
        "Stephen Rail",
        [
            "The steam locomotive pulled forty coal wagons up the gradient to the junction.",
            "The fireman shovelled coal into the firebox as the driver watched the gauge.",
            "Signalmen in the box pulled the levers that set the points for the express train.",
            "The station master blew his whistle and the night mail left the platform on time.",
            "Sleepers of creosoted oak carried the iron rails across the marsh and the viaduct.",
            "The boiler was tested to twice its working pressure before the engine left the works.",
        ],
    ),
}

LICENSE = """
*** END OF THE PROJECT GUTENBERG EBOOK {title_upper} ***

Updated editions will replace the previous one--the old editions will
be renamed.

START: FULL LICENSE

THE FULL PROJECT GUTENBERG LICENSE
PLEASE READ THIS BEFORE YOU DISTRIBUTE OR USE THIS WORK

To protect the Project Gutenberg-tm mission of promoting the free
distribution of electronic works, by using or distributing this work
(or any other work associated in any way with the phrase "Project
Gutenberg"), you agree to comply with all the terms of the Full
Project Gutenberg-tm License available with this file or online at
www.gutenberg.org/license.
"""


@dataclass(frozen=True)
class SyntheticBook:
    book_id: str
    title: str
    author: str
    text: str

    @property
    def first_sentence(self) -> str:
        return SUBJECTS[self.book_id][2][0]


def body(book_id: str, paragraphs: int, seed: int = 0) -> str:
    """Paragraphs of shuffled sentences on the book's subject, hard-wrapped like Gutenberg."""
    sentences = SUBJECTS[book_id][2]
    rng = random.Random(f"{book_id}-{seed}")
    out = []
    for n in range(paragraphs):
        picked = rng.sample(sentences, k=4)
        text = f"Chapter {n + 1} goes on. " + " ".join(picked)
        out.append(wrap(text))
    return "\n\n".join(out)


def wrap(text: str, width: int = 70) -> str:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines)


def gutenberg_text(book_id: str, paragraphs: int = 40, seed: int = 0) -> SyntheticBook:
    """A whole Gutenberg-style file: header, START marker, body, END marker, license."""
    title, author, _ = SUBJECTS[book_id]
    text = (
        f"The Project Gutenberg eBook of {title}\n\n"
        "This eBook is for the use of anyone anywhere in the United States and\n"
        "most other parts of the world at no cost and with almost no restrictions\n"
        "whatsoever.\n\n"
        f"Title: {title}\n\nAuthor: {author}\n\n"
        f"Release date: January 1, 2001 [eBook #{book_id}]\n\nLanguage: English\n\n"
        f"*** START OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***\n\n\n"
        f"{title.upper()}\n\nby {author}\n\n\n"
        f"{body(book_id, paragraphs, seed)}\n\n" + LICENSE.format(title_upper=title.upper())
    )
    return SyntheticBook(book_id, title, author, text)


def expected_chunk_ids(
    books: dict[str, bytes], *, chunk_tokens: int = 200, chunk_overlap: int = 32
) -> set[str]:
    """The chunk ids `corpus.book.prepare_book` makes of Gutenberg books {id: bytes}."""
    model = Path(default_model())
    tokenizer = load_tokenizer(model)
    config = ChunkConfig(
        max_tokens=chunk_tokens, overlap_tokens=chunk_overlap, window=model_window(model)
    )
    ids: set[str] = set()
    for book_id, data in books.items():
        book = prepare_book(
            data, name=book_id, tokenizer=tokenizer, config=config,
            gutenberg_id=book_id, fallback_id=book_id,
        )
        ids |= {c.id for c in book.chunks}
    return ids


def shelf(root: Path, **books: str) -> Path:
    """The folder `root` made with a file per keyword (name with "_" for "."), text as given."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in books.items():
        (root / name.replace("_", ".")).write_text(text)
    return root
