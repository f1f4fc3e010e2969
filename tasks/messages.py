"""The typed messages that travel between the client and the tasks, and their one wire format.

Every task takes exactly one keyword argument, `message`: a frozen pydantic model here. On the
wire it is plain JSON (never pickle: a shared broker plus pickle is remote code execution);
`to_wire` and `from_wire` are the only places that convert, and `from_wire` refuses a message
that does not have the model's shape, naming the task, instead of a KeyError deep in a task.

    client --FetchBook--> fetch_book (io) --EmbedBatch--> embed_batch (embed)
                                          \\--ContextualizeBatch--> contextualize_batch (llm)
                                                                   --EmbedBatch--> embed_batch
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator, ValidationError

from tasks.errors import TaskError

M = TypeVar("M", bound="Message")
GutenbergEdition = Literal["txt", "epub", "html"]


def _bytes_from_wire(value: Any) -> bytes:
    """Bytes as given in Python, or decoded from the base64 text they travel as."""
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ValueError("expected base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not base64 ({exc})") from None


# Raw bytes inside a JSON message, as base64 text. A local file's bytes travel inside its
# FetchBook rather than under a Redis key of their own: the message is what Celery acknowledges,
# redelivers after a lost worker and re-sends on retry, so the bytes come with every delivery
# and vanish with the message, with no key to expire or clean up after a cancelled run. The
# cost is a third more bytes; at most RAGMILL_BOOKS_IN_FLIGHT files of at most
# RAGMILL_MAX_BOOK_BYTES each are queued at once, so what Redis holds stays bounded.
WireBytes = Annotated[
    bytes,
    PlainValidator(_bytes_from_wire),
    PlainSerializer(lambda data: base64.b64encode(data).decode("ascii"), when_used="json"),
]


class MessageError(TaskError, ValueError):
    """A task received a message that is not of its type (an older or foreign sender)."""


class Message(BaseModel):
    """Base of every message: immutable, and unknown fields are an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceRef(Message):
    """Where a book comes from: a Gutenberg id, an http(s) URL or a local file."""

    kind: Literal["gutenberg", "url", "file"]
    ref: str
    label: str


class BookOptions(Message):
    """Per-ingest choices that travel with each fetch, so any worker can serve any run."""

    mirror: str
    chunk_tokens: int
    chunk_overlap: int
    collection: str
    # Ask the LLM stage for each chunk's context before it is embedded.
    contextualize: bool = False
    # Which edition of a Gutenberg book to download: its plain text, EPUB or HTML.
    gutenberg_edition: GutenbergEdition = "txt"


class BookInfo(Message):
    """What every chunk of a book carries into Chroma's metadata."""

    book_id: str
    title: str
    author: str
    language: str
    source: str


class ChunkItem(Message):
    """One chunk on its way to the store."""

    id: str
    position: int
    text: str
    tokens: int
    # Written by the LLM stage with --contextualize; embedded together with the text.
    context: str | None = None
    # The chapter or section the chunk lies in ("" when the book has none).
    chapter: str = ""
    # First and last printed page the text comes from (PDF only).
    page_first: int | None = None
    page_last: int | None = None


class RunMessage(Message):
    """A message that belongs to an ingest run; its failures are written to the run's ledger."""

    run_id: str

    def summary(self) -> str:
        """What Flower shows instead of the arguments (never chunk texts)."""
        return f"(run={self.run_id})"


class FetchBook(RunMessage):
    """Fetch, chunk and queue one book. `data` carries the bytes of a local file the client
    read (workers may run on other machines than the file)."""

    source: SourceRef
    options: BookOptions
    data: WireBytes | None = None

    def summary(self) -> str:
        return f"(run={self.run_id}, source={self.source.label})"


class EmbedBatch(RunMessage):
    """Embed and store a fixed slice (`index`) of a book's chunks."""

    collection: str
    book: BookInfo
    index: int
    chunks: tuple[ChunkItem, ...]

    def summary(self) -> str:
        contexts = sum(1 for c in self.chunks if c.context)
        return (
            f"(run={self.run_id}, book={self.book.book_id}, batch={self.index}, "
            f"chunks={len(self.chunks)}{f', contexts={contexts}' if contexts else ''})"
        )


class ContextualizeBatch(EmbedBatch):
    """An embed batch that first gets an LLM-written context for each chunk.

    `before` is the text of the chunk preceding the batch, the first chunk's context.
    """

    before: str = ""

    def summary(self) -> str:
        return super().summary()[:-1] + ", contextualize)"

    def embed_batch(self, chunks: tuple[ChunkItem, ...]) -> EmbedBatch:
        """The batch to embed once the contexts are known."""
        return EmbedBatch(
            run_id=self.run_id,
            collection=self.collection,
            book=self.book,
            index=self.index,
            chunks=chunks,
        )


# Which task each message goes to; the client sends by name, without importing the tasks.
TASK_NAMES: dict[type[RunMessage], str] = {
    FetchBook: "ragmill.fetch_book",
    EmbedBatch: "ragmill.embed_batch",
    ContextualizeBatch: "ragmill.llm.contextualize_batch",
}


def to_wire(message: Message) -> dict[str, Any]:
    """The JSON-safe dict a message travels as."""
    return message.model_dump(mode="json")


def from_wire(kind: type[M], data: Any, task: str) -> M:
    """The `kind` message in `data`; MessageError names `task` and the first wrong field."""
    if isinstance(data, kind):
        return data
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        reason = f"{where}: {first['msg']}"
        raise MessageError(f"{task}: not a {kind.__name__} message ({reason})") from None


def send_options(message: RunMessage) -> dict[str, Any]:
    """`apply_async`/`send_task` keyword arguments that send `message` to its task."""
    return {
        "kwargs": {"message": to_wire(message)},
        "kwargsrepr": message.summary(),
        "argsrepr": "()",
    }
