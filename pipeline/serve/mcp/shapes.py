"""What the MCP tools answer: typed results an agent can read, follow and cite.

Every passage carries its book, title, author, chapter, page and chunk id, and the label the
`ask` tool's answers cite it by ([book:position], pipeline/search/answers.py). The models are
pydantic models so the SDK publishes their JSON schema as each tool's output schema.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from pipeline.search.answers import Answer, label
from pipeline.search.library import Book, CollectionInfo
from pipeline.search.query import Result


class Passage(BaseModel):
    """One stored chunk of a book."""

    chunk_id: str = Field(description="Pass it to read_passage to read the text around it.")
    book: str = Field(description="The book id; pass it as the book filter to stay in it.")
    title: str
    author: str
    chapter: str | None = Field(description="The chapter or section, when the book has them.")
    page: int | None = Field(description="First printed page (PDF books only).")
    page_last: int | None = Field(description="Last printed page (PDF books only).")
    position: int = Field(description="The passage's place in its book, from 0.")
    label: str = Field(description="How to cite the passage, e.g. [84:12].")
    score: float | None = Field(description="Closeness to the query (search); None when read.")
    text: str

    @classmethod
    def of(cls, result: Result, *, scored: bool = True) -> Passage:
        return cls(
            chunk_id=result.chunk_id, book=result.book_id, title=result.title,
            author=result.author, chapter=result.chapter, page=result.page_first,
            page_last=result.page_last, position=result.position, label=f"[{label(result)}]",
            score=result.score if scored else None, text=result.text,
        )


class SearchResults(BaseModel):
    collection: str
    mode: str
    passages: list[Passage] = Field(description="Best first; empty when nothing matched.")


class PassageWindow(BaseModel):
    collection: str
    chunk_id: str = Field(description="The chunk asked for.")
    passages: list[Passage] = Field(description="In book order: before, the chunk, after.")
    more_before: bool = Field(description="Whether the book goes on before the first passage.")
    more_after: bool = Field(description="Whether the book goes on after the last passage.")


class BookSummary(BaseModel):
    book: str = Field(description="The book id, as the book filter takes it.")
    title: str
    author: str
    language: str
    source: str = Field(description="Where it was ingested from: gutenberg:<id>, a file, a URL.")
    chunks: int
    ingested_at: str | None = Field(description="When its newest chunk was written (UTC).")

    @classmethod
    def of(cls, book: Book) -> BookSummary:
        return cls(book=book.book_id, title=book.title, author=book.author,
                   language=book.language, source=book.source, chunks=book.chunks,
                   ingested_at=book.ingested_at)


class BookList(BaseModel):
    collection: str
    books: list[BookSummary]


class Chapter(BaseModel):
    chapter: str | None = Field(description="None for the passages before any chapter.")
    first_chunk_id: str = Field(description="Pass it to read_passage to start reading there.")
    first_position: int
    chunks: int


class BookDescription(BaseModel):
    collection: str
    book: BookSummary
    first_chunk_id: str = Field(description="The book's first passage.")
    chapters: list[Chapter] = Field(description="In book order; empty when the book has none.")


class CollectionSummary(BaseModel):
    name: str
    chunks: int
    model: str = Field(description="The embedding model that made its vectors.")
    backend: str
    default: bool = Field(description="Whether tools use it when no collection is given.")

    @classmethod
    def of(cls, info: CollectionInfo, default: str) -> CollectionSummary:
        return cls(name=info.name, chunks=info.chunks, model=info.model, backend=info.backend,
                   default=info.name == default)


class CollectionList(BaseModel):
    collections: list[CollectionSummary]


class AnswerWithSources(BaseModel):
    question: str
    answer: str = Field(description="The LLM's answer, citing passages by their label.")
    sources: list[Passage] = Field(description="The retrieved passages the answer cites.")
    unknown_citations: list[str] = Field(
        description="Labels the answer cites that were not retrieved: do not trust those claims."
    )

    @classmethod
    def of(cls, answer: Answer) -> AnswerWithSources:
        # The ask tool refuses before asking when the server has no LLM, so there is a text.
        assert answer.text is not None
        return cls(question=answer.question, answer=answer.text,
                   sources=[Passage.of(r) for r in answer.cited],
                   unknown_citations=answer.unknown)
