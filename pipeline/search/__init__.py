"""The one read path: `Library` (library.py) answers the CLI, the Python API and the HTTP API.

    library.py          `Library`: search, ask, books, delete, collections, ingest
    query.py            retrieval by meaning over the stored vectors
    keyword.py          BM25 keyword retrieval and hybrid fusion
    filters.py          book, author, language, title and chapter filters as Chroma `where`
    query_batching.py   questions of many callers encoded together (the service's micro-batches)
    answers.py          answers with citations through the configured LLM
    chroma_function.py  the collection's embedding function for other tools (LangChain, ...)

May import ingest/ (Library.ingest), stack/ and errors.py; never serve/ or cli/.

    from pipeline.search import Library
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.search.library import Library

__all__ = ["Library"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing a light module of this package (filters) does not load the whole path.
    if name == "Library":
        from pipeline.search.library import Library

        return Library
    raise AttributeError(name)
