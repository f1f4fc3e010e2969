"""The prompt that asks for a chunk's context: one or two sentences situating it in its book.

Whole books do not fit a prompt, so the model sees the book's title and author, where the chunk
falls, the text just before it and the chunk itself (Anthropic's "contextual retrieval" prompt,
cut down to what fits).
"""

from __future__ import annotations

from tasks.llm.client import Message
from tasks.messages import BookInfo

SYSTEM = (
    "You write short context for passages of books so that they can be found by search. "
    "Answer with one or two sentences only, no preamble."
)
# The text before the chunk is cut to this many characters: enough to say who and where.
BEFORE_CHARS = 600
MAX_CONTEXT_CHARS = 600


def context_messages(
    book: BookInfo, chunk_text: str, position: int, before: str
) -> list[Message]:
    """Chat messages asking for the context of one chunk of `book`."""
    title = book.title or book.book_id or "an unnamed book"
    author = book.author or "an unknown author"
    lead = before[-BEFORE_CHARS:].strip()
    parts = [f"Book: {title}, by {author}. Passage number {position + 1}."]
    if lead:
        parts.append(f"Text just before the passage:\n<before>\n{lead}\n</before>")
    parts.append(f"The passage:\n<passage>\n{chunk_text.strip()}\n</passage>")
    parts.append(
        "Write one or two sentences that situate this passage within the book (who is "
        "involved, where it falls in the story or argument), to improve search retrieval of "
        "the passage. Answer only with the sentences."
    )
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def clean_context(text: str) -> str:
    """The reply as one tidy line, cut to a bounded length."""
    line = " ".join(text.split())
    return line[:MAX_CONTEXT_CHARS]
