"""Book preparation (format extraction and chunking) in processes the io worker owns.

The io worker runs a threads pool, right for waiting on downloads and wrong for CPU work: its
threads share one GIL, so two books parsed at once take as long as two parsed one after the
other, and PDFium, which reads PDFs, is not thread-safe at all. So `fetch_book` threads hand the
bytes to a `ProcessPoolExecutor` with one process per core and wait for the `Book`: every
core of every io machine extracts, and one PDF never runs beside another in one process.

The pool is created on first use, so a worker that only downloads text never starts it, and its
processes are spawned, not forked: a fork of a process with running threads (Celery's, Redis
connections') can copy a lock some other thread holds and hang. Each process prepares at most
`_BOOKS_PER_PROCESS` books and is then replaced, which bounds what a leaking parser can hold.
The bytes and the Book cross between processes of one machine with pickle, which never leaves
the machine; the broker still sees JSON only. docs/formats.md has the measurements.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from corpus.book import Book, prepare_book
from corpus.errors import DecodeError
from corpus.formats.ocr_pages import OcrPlan, PagesNeedOcr, ocr_plan

__all__ = ["PrepareJob", "extraction_processes", "prepare_in_process", "shutdown"]

T = TypeVar("T")
_BOOKS_PER_PROCESS = 200
_PARENT_CHECK_SECONDS = 1.0
_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


@dataclass(frozen=True, kw_only=True)
class PrepareJob:
    """Everything `prepare_book` needs, in a form that crosses to another process."""

    data: bytes
    name: str
    fallback_id: str
    gutenberg_id: str | None = None
    chunk_tokens: int
    chunk_overlap: int
    max_bytes: int
    # Scanned pages already read (page number -> text); None until the fetch has read them.
    ocr_texts: dict[int, str] | None = None


def extraction_processes() -> int:
    """Processes of the pool: the cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def prepare_in_process(job: PrepareJob) -> Book:
    """The prepared book, extracted and chunked in one of the pool's processes.

    Raises the corpus error the extraction raised. A process that dies under a book (out of
    memory, a crash inside a parser) breaks the pool: it is replaced and the book tried once
    more, since the book that killed it may have been another; a second death fails the book.
    A book with scanned pages comes back as PagesNeedOcr: its pages are read by `ocr_page`
    tasks on every embed process (tasks/ocr.py) and the book is prepared again with the texts.
    """
    try:
        return _prepare_once(job)
    except PagesNeedOcr as need:
        from tasks.ocr import read_pages

        return _prepare_once(replace(job, ocr_texts={**(job.ocr_texts or {}), **read_pages(need)}))


def _prepare_once(job: PrepareJob) -> Book:
    for attempt in (1, 2):
        pool = _current_pool()
        try:
            return pool.submit(_prepare, job).result(timeout=_timeout())
        except TimeoutError:
            # A parser that hangs would hold this io thread past the visibility timeout, and
            # Redis would hand the book to a second thread; its process is killed instead.
            _kill(pool)
            raise DecodeError(
                f"{job.name}: reading it took longer than {_timeout():.0f} s (a file that hangs "
                "the parser); check the file, or raise RAGMILL_VISIBILITY_TIMEOUT if it is "
                "merely slow"
            ) from None
        except BrokenProcessPool:
            _discard(pool)
            if attempt == 2:
                raise DecodeError(
                    f"{job.name}: the process reading it died (out of memory, or a file that "
                    "crashes the parser); check the file or raise the worker's memory"
                ) from None
    raise AssertionError("unreachable: the loop returns or raises")


def submit(fn: Callable[..., T], *args: Any) -> Future[T]:
    """Run `fn(*args)` in one of the pool's processes (scanned pages when no embed worker runs)."""
    return _current_pool().submit(fn, *args)


def shutdown() -> None:
    """Stop the pool's processes (tests, and a worker that is told to stop)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def _current_pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=extraction_processes(),
                mp_context=multiprocessing.get_context("spawn"),
                max_tasks_per_child=_BOOKS_PER_PROCESS,
                initializer=_start_process,
                initargs=(os.getpid(),),
            )
        return _pool


def _timeout() -> float:
    from tasks import resources
    from tasks.celery_config import extraction_timeout

    return extraction_timeout(resources.settings())


def _kill(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's processes (a pool cannot stop one job) and start afresh; books that were
    in its other processes meet BrokenProcessPool and are tried again in the new pool."""
    for process in list(getattr(pool, "_processes", {}).values()):
        process.kill()
    _discard(pool)


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def _start_process(parent: int) -> None:
    """Runs first in each pool process."""
    # The pool has a process per core already; the tokenizer's own thread pool on top of it
    # would only spin (counting many short texts one batch at a time costs twice the CPU).
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _exit_with_parent(parent)


def _exit_with_parent(parent: int) -> None:
    """End this pool process when the worker that owns it is gone.

    A worker killed outright (SIGKILL, a lost machine) cannot stop its pool, and a pool process
    waiting for work never notices: the queue it reads from stays open in its siblings.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _prepare(job: PrepareJob) -> Book:
    """Runs in a pool process: the tokenizer and chunk settings are loaded once per process."""
    from tasks import resources

    # Scanned pages are not read here, one after another, but by the fetch's page tasks.
    with ocr_plan(OcrPlan(texts=job.ocr_texts or {}, inline=False)):
        return prepare_book(
            job.data,
            name=job.name,
            tokenizer=resources.tokenizer(),
            config=resources.chunk_config(job.chunk_tokens, job.chunk_overlap),
            gutenberg_id=job.gutenberg_id,
            fallback_id=job.fallback_id,
            max_bytes=job.max_bytes,
        )
