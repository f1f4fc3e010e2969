"""The search service's HTTP API and page, a FastAPI application over one `Library`.

    GET /api/search?q=&k=&book=&author=&language=&title=&chapter=&where=&collection=&mode=
        the JSON of `ragmill query --json` for the same question (mode: meaning, keyword,
        hybrid; docs/search.md)
    GET /api/ask?...            the JSON of `ragmill ask --json` (same parameters)
    GET /api/books?collection=  the JSON of `ragmill books --json`
    GET /api/collections        the JSON of `ragmill collections --json`
    GET /health                 200 once the model is loaded and a first search has run
    GET /                       the page; /docs is the OpenAPI page

Every error is one line of JSON, {"error": "..."}: 400 for a request that cannot be right, 401
without the token, 404 for an unknown collection, 502 when the LLM or the embeddings endpoint
fails, 503 when Chroma does not answer or the shared embeddings limit is spent past
EMBED_TIMEOUT. Nothing a client sends makes the service stop serving.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from pipeline.errors import RagmillError, UsageError
from pipeline.search.keyword import DEFAULT_MODE
from pipeline.search.library import Library
from pipeline.serve.access import authorized
from pipeline.serve.client import reader_of
from pipeline.stack.collection import UnknownCollection, record_errors
from tasks.collection_record import check_reader
from tasks.embedding.errors import EmbedLimitBusy
from tasks.endpoint.errors import AdmissionTimeout, EndpointError
from tasks.errors import TaskError
from tasks.llm.errors import LLMError
from tasks.settings import COLLECTION_NAME, REMOTE_BACKEND

PAGE = Path(__file__).parent / "static" / "index.html"

# Collections other than its own a long-lived server keeps open at most, the most recently
# asked for. Each holds a Chroma handle and the books it has seen, not a model (they share the
# service's); opening one again costs a Chroma round trip.
KEPT_LIBRARIES = 16


@dataclass
class _Kept:
    library: Library
    # Whether the service's model was found to make vectors of the collection's kind.
    checked: bool = False


class Libraries:
    """The service's library and, of the other collections asked for, the KEPT_LIBRARIES most
    recently used, all sharing one model and one Chroma client. A name the server does not hold
    is never kept: each request for it costs a Chroma round trip and answers 404."""

    def __init__(self, default: Library, kept: int = KEPT_LIBRARIES) -> None:
        self.default = default
        self.kept = kept
        self._others: OrderedDict[str, _Kept] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, collection: str | None, *, for_questions: bool = True) -> Library:
        """The library of `collection` (UnknownCollection when there is none); `for_questions`,
        only if the service's model makes vectors of the collection's kind (else 400: searching
        it would find nonsense)."""
        if not collection or collection == self.default.collection:
            return self.default
        with self._lock:
            kept = self._others.get(collection)
            if kept is not None:
                self._others.move_to_end(collection)
        if kept is None:
            kept = self._open(collection)
        if for_questions and not kept.checked:
            with record_errors():
                check_reader(kept.library.store, kept.library.settings)
            kept.checked = True
        return kept.library

    def _open(self, collection: str) -> _Kept:
        """Open `collection` (out of the lock: a round trip to Chroma) and keep it."""
        if not COLLECTION_NAME.fullmatch(collection):  # no collection can have this name
            raise UnknownCollection.on(self.default.client, collection, self.default.chroma_url)
        library = Library(collection, self.default.chroma_url, settings=self.default.settings,
                          embedder=self.default.embedder, client=self.default.client)
        library.store  # noqa: B018 - a name that does not exist raises before anything is kept
        with self._lock:
            kept = self._others.setdefault(collection, _Kept(library))
            self._others.move_to_end(collection)
            while len(self._others) > self.kept:
                self._others.popitem(last=False)
        return kept


def warm_up(library: Library) -> None:
    """Load what a first search needs before /health says ready, so the first searches are
    as fast as later ones: the model, then one search through it and Chroma, which reads the
    collection record and has Chroma load the collection's index. The collection may not exist
    yet (a fresh `ragmill up`): searches answer 404 until an ingest creates it.

    An endpoint makes no warm-up search: it would spend the limit every caller shares, and an
    endpoint that refuses (a wrong key) is each request's one-line 502, not a service that
    will not start."""
    if library.embedder.backend == REMOTE_BACKEND:  # loads the model first
        return
    # Best effort: what fails here fails each request in its own words.
    with suppress(UnknownCollection, TaskError):
        library.search("warm-up", k=1)


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class RequireToken:
    """ASGI middleware: /api/* answers 401 unless the request carries the service's token.

    Plain ASGI rather than Starlette's BaseHTTPMiddleware (`@app.middleware("http")`), which
    wraps every response in a stream of its own: a sixth of a search's time in the service.
    """

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self.token is not None and scope["type"] == "http"
                and scope["path"].startswith("/api/")
                and not authorized(Headers(scope=scope).get("authorization"), self.token)):
            refusal = error(401, "this service needs its token: Authorization: Bearer <token>")
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def question_params(
    q: Annotated[str, Query(description="The question.")] = "",
    k: Annotated[int, Query(description="How many passages (1-1000).")] = 5,
    book: Annotated[list[str] | None, Query(description="Book id; repeat for any of several.")]
    = None,
    author: Annotated[list[str] | None, Query()] = None,
    language: Annotated[list[str] | None, Query()] = None,
    title: Annotated[list[str] | None, Query()] = None,
    chapter: Annotated[list[str] | None, Query()] = None,
    where: Annotated[str | None, Query(description="A Chroma metadata filter (JSON).")] = None,
    collection: Annotated[str | None, Query()] = None,
    mode: Annotated[str, Query(description="meaning, keyword (BM25) or hybrid.")]
    = DEFAULT_MODE,
) -> dict[str, Any]:
    """The parameters of a search or a question, as Library.search takes them."""
    return {"question": q, "k": k, "book": book, "author": author, "language": language,
            "title": title, "chapter": chapter, "where": where, "collection": collection,
            "mode": mode}


Question = Annotated[dict[str, Any], Depends(question_params)]


def create_app(library: Library, *, token: str | None = None) -> FastAPI:
    """The application serving `library`; with `token`, /api/* requires it as a bearer token."""
    libraries = Libraries(library)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(warm_up, library)
        yield

    app = FastAPI(title="ragmill", summary="Search and ask the books ragmill ingested.",
                  lifespan=lifespan)

    app.add_middleware(RequireToken, token=token)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "query")
        return error(400, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RagmillError)
    @app.exception_handler(TaskError)
    async def own_error(request: Request, exc: Exception) -> JSONResponse:
        return error(*status_of(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return error(500, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")

    @app.get("/health")
    def health() -> dict[str, Any]:
        """200 once the model is loaded and a warm-up search has run (the service accepts
        requests only then)."""
        return {"status": "ok", "collection": library.collection,
                "model": library.embedder.model_name, "backend": library.embedder.backend,
                # The settings that make a question's vector: `ragmill query` sends its
                # question here only when its own are the same (pipeline/serve/client.py).
                "reader": reader_of(library.settings)}

    # The search endpoints answer with a JSONResponse of plain dicts: the OpenAPI page still
    # shows their shape (response_model), but FastAPI need not validate and re-serialize what
    # Result.as_dict already made.
    @app.get("/api/search", response_model=list[dict[str, object]])
    def search(params: Question) -> JSONResponse:
        """The closest passages, as `ragmill query --json` prints them."""
        found = libraries.get(params.pop("collection")).search(params.pop("question"),
                                                               params.pop("k"), **params)
        return JSONResponse([r.as_dict() for r in found])

    @app.get("/api/ask", response_model=dict[str, Any])
    def ask(params: Question) -> JSONResponse:
        """The LLM's answer with its cited passages, as `ragmill ask --json` prints it; without
        an LLM configured, answer null and the closest passages."""
        chosen = libraries.get(params.pop("collection"))
        question, k = params.pop("question"), params.pop("k")
        return JSONResponse(chosen.ask(question, k, **params).as_dict())

    @app.get("/api/books")
    def books(collection: str | None = None) -> list[dict[str, object]]:
        """The collection's books, as `ragmill books --json` prints them."""
        return [b.as_dict() for b in libraries.get(collection, for_questions=False).books()]

    @app.get("/api/collections")
    def collections() -> list[dict[str, object]]:
        """The server's collections, as `ragmill collections --json` prints them."""
        return [c.as_dict() for c in library.collections()]

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(PAGE, media_type="text/html")

    return app


def status_of(exc: Exception) -> tuple[int, str]:
    """The HTTP status and message of one of ragmill's own errors: every one is mapped here."""
    if isinstance(exc, UnknownCollection):
        return 404, str(exc)
    if isinstance(exc, RagmillError):
        return (400 if isinstance(exc, UsageError) else 503), str(exc)
    if isinstance(exc, LLMError) or (isinstance(exc, EndpointError) and not
                                     isinstance(exc, (EmbedLimitBusy, AdmissionTimeout))):
        prefix = "the LLM could not answer: " if isinstance(exc, LLMError) else ""
        return 502, f"{prefix}{exc}"
    # A spent shared limit passes; a wrong setting or collection is the operator's to fix.
    return 503, str(exc)
