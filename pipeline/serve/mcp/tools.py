"""The MCP server over one `Library`: its tools, what they take, and what they answer.

The tools are the search page's questions put to an agent: search with the page's filters,
read on around a hit, list and describe what the library holds, and ask the configured LLM.
Every argument and result is typed, so the SDK publishes input and output schemas; the
descriptions are written for the agent that chooses a tool from them.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import Field

from pipeline.errors import UsageError
from pipeline.search.filters import MAX_K
from pipeline.search.library import Library
from pipeline.serve.app import Libraries
from pipeline.serve.mcp import reading
from pipeline.serve.mcp.errors import one_sentence
from pipeline.serve.mcp.shapes import (
    AnswerWithSources,
    BookDescription,
    BookList,
    BookSummary,
    Chapter,
    CollectionList,
    CollectionSummary,
    Passage,
    PassageWindow,
    SearchResults,
)
from tasks.llm.errors import NO_LLM as LLM_MISSING

INSTRUCTIONS = (
    "A library of books split into passages. Find passages with `search`; read on around one "
    "with `read_passage`; see what the library holds with `list_books`, `describe_book` and "
    "`list_collections`. Cite a passage by its label, e.g. [84:12], with its title and author. "
    "`ask` answers with citations through the server's LLM, when it has one."
)

# The one "no LLM" message, and what an agent can do instead.
NO_LLM = f"{LLM_MISSING} on this server; use the search tool and answer from its passages"

# Nothing a tool does changes the library; ask spends the shared LLM limit, nothing else.
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

# The same modes as `ragmill query --mode` (pipeline/search/keyword.py MODES), as an enum the
# agent sees in the schema.
Mode = Annotated[
    Literal["meaning", "keyword", "hybrid"],
    Field(description="meaning: closest in meaning (default); keyword: BM25 over the words, "
                      "for names and rare words; hybrid: both, fused."),
]
Query = Annotated[str, Field(description="What to look for, in plain words (at most 2,000 "
                                         "characters).")]
# The range is published in the schema but checked by the library, whose refusal names it.
Question = Annotated[str, Field(description="The question, in plain words (at most 2,000 "
                                            "characters).")]
K = Annotated[int, Field(description="How many passages, best first.",
                         json_schema_extra={"minimum": 1, "maximum": MAX_K})]
Values = str | list[str] | None
Book = Annotated[Values, Field(description="Only these book ids (list_books); any of several.")]
Author = Annotated[Values, Field(description="Only books by this exact author; any of several.")]
Language = Annotated[Values, Field(description="Only this language code, e.g. en; any of "
                                                "several.")]
Title = Annotated[Values, Field(description="Only the book of this exact title; any of several.")]
ChapterName = Annotated[Values, Field(description="Only this exact chapter (describe_book lists "
                                                  "them); any of several.")]
Where = Annotated[dict[str, Any] | str | None, Field(
    description='A Chroma metadata filter, e.g. {"position": {"$lt": 10}}, added to the others.'
)]
Collection = Annotated[str | None, Field(
    description="A collection on the server (list_collections); default: the server's."
)]


class LibraryServer(MCPServer[Any]):
    """MCPServer whose tool failures are all one sentence (errors.py), whatever raised them."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as failure:
            raise ToolError(one_sentence(failure, name)) from None


def create_server(library: Library) -> LibraryServer:
    """The MCP server over `library` and the other collections of its Chroma server."""
    libraries = Libraries(library)
    server = LibraryServer("ragmill", instructions=INSTRUCTIONS, log_level="WARNING",
                           lifespan=_loading_model(library))

    @server.tool(annotations=READ_ONLY)
    def search(query: Query, k: K = 5, mode: Mode = "meaning", book: Book = None,
               author: Author = None, language: Language = None, title: Title = None,
               chapter: ChapterName = None, where: Where = None,
               collection: Collection = None) -> SearchResults:
        """Find the passages of the library closest to a query, best first, optionally only
        in some books, authors, languages, titles or chapters. Each passage carries its book,
        title, author, chapter, page, chunk id and citation label."""
        chosen = libraries.get(collection)
        found = chosen.search(query, k, mode=mode, where=where, book=book, author=author,
                              language=language, title=title, chapter=chapter)
        return SearchResults(collection=chosen.collection, mode=mode,
                             passages=[Passage.of(r) for r in found])

    @server.tool(annotations=READ_ONLY)
    def read_passage(
        chunk_id: Annotated[str, Field(description="A chunk_id from search or describe_book.")],
        before: Annotated[int, Field(description=f"Passages before it, 0 to "
                                                 f"{reading.MAX_NEIGHBOURS}.")] = 1,
        after: Annotated[int, Field(description=f"Passages after it, 0 to "
                                                f"{reading.MAX_NEIGHBOURS}.")] = 1,
        collection: Collection = None,
    ) -> PassageWindow:
        """Read a passage with the text before and after it in its book, in reading order.
        To read on, call again with the last passage's chunk_id (or the first's, to go back)."""
        chosen = libraries.get(collection, for_questions=False)
        window = reading.around(chosen.store, chunk_id, before, after)
        return PassageWindow(collection=chosen.collection, chunk_id=chunk_id,
                             passages=[Passage.of(r, scored=False) for r in window.passages],
                             more_before=window.more_before, more_after=window.more_after)

    @server.tool(annotations=READ_ONLY)
    def list_books(collection: Collection = None) -> BookList:
        """List the books of a collection: id, title, author, language, source and how many
        passages each has. The ids are what the book filter of search and ask takes."""
        chosen = libraries.get(collection, for_questions=False)
        return BookList(collection=chosen.collection,
                        books=[BookSummary.of(b) for b in chosen.books()])

    @server.tool(annotations=READ_ONLY)
    def describe_book(
        book: Annotated[str, Field(description="A book id from list_books or a passage.")],
        collection: Collection = None,
    ) -> BookDescription:
        """Describe one book: its title, author, language and source, its first passage, and
        its chapters in order with the chunk id each starts at (read them with read_passage)."""
        chosen = libraries.get(collection, for_questions=False)
        summary, first, starts = reading.describe(chosen.store, book)
        return BookDescription(
            collection=chosen.collection, book=BookSummary.of(summary),
            first_chunk_id=first.chunk_id,
            chapters=[Chapter(chapter=s.chapter, first_chunk_id=s.first.chunk_id,
                              first_position=s.first.position, chunks=s.chunks)
                      for s in starts],
        )

    @server.tool(annotations=READ_ONLY)
    def list_collections() -> CollectionList:
        """List the collections on the library's Chroma server, with how many passages each
        holds and the embedding model that made them; the default one is marked."""
        return CollectionList(collections=[CollectionSummary.of(c, library.collection)
                                           for c in library.collections()])

    @server.tool(annotations=READ_ONLY)
    def ask(question: Question, k: K = 5, mode: Mode = "meaning", book: Book = None,
            author: Author = None, language: Language = None, title: Title = None,
            chapter: ChapterName = None, where: Where = None,
            collection: Collection = None) -> AnswerWithSources:
        """Answer a question from the k passages closest to it, through the server's LLM
        (within the limit it shares with every other caller), citing passages by label. The
        sources are the passages cited. Fails in one line when the server has no LLM: then
        search and answer from the passages."""
        chosen = libraries.get(collection)
        if not chosen.settings.llm.configured:
            raise UsageError(NO_LLM)
        answer = chosen.ask(question, k, mode=mode, where=where, book=book, author=author,
                            language=language, title=title, chapter=chapter)
        return AnswerWithSources.of(answer)

    return server


def _loading_model(library: Library) -> Any:
    """A lifespan that starts loading the model in the background, so the client's handshake
    is answered at once and the first search waits for the model only if it comes early."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        threading.Thread(target=_load, args=(library,), name="load-model", daemon=True).start()
        yield

    return lifespan


def _load(library: Library) -> None:
    # A model that cannot load is reported by the tool that needs it, in one line.
    with suppress(Exception):
        library.embedder  # noqa: B018 - loading is the point
