"""Books are prepared in the io worker's own processes, errors and all."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus.errors import CorruptDocument
from tasks import extraction
from tasks.extraction import PrepareJob, prepare_in_process
from tests.corpus.formats.builders import CHAPTER_TEXT, pdf


@pytest.fixture(autouse=True)
def fresh_pool() -> Iterator[None]:
    yield
    extraction.shutdown()


def job(data: bytes, name: str) -> PrepareJob:
    return PrepareJob(
        data=data, name=name, fallback_id="local", chunk_tokens=200, chunk_overlap=32,
        max_bytes=2**20,
    )


def test_a_pdf_is_prepared_in_another_process_with_its_pages() -> None:
    pages = [[(18.0, "Chapter One"), (11.0, CHAPTER_TEXT)], [(11.0, CHAPTER_TEXT)]]
    book = prepare_in_process(job(pdf(pages), "novel.pdf"))
    assert book.format == "pdf"
    assert book.chunks and book.chunks[0].pages is not None
    assert book.chunks[-1].pages is not None and book.chunks[-1].pages[1] == 2
    assert extraction._pool is not None
    children = {p.pid for p in extraction._pool._processes.values()}
    assert children and os.getpid() not in children


def test_a_corpus_error_in_the_process_reaches_the_caller_as_itself() -> None:
    with pytest.raises(CorruptDocument, match=r"^broken\.pdf: not a valid PDF"):
        prepare_in_process(job(b"this is not a pdf at all", "broken.pdf"))


OWNER = """
import os, sys, time
from tasks import extraction
print(extraction._current_pool().submit(os.getpid).result(), flush=True)
time.sleep(60)
"""


def test_pool_processes_end_when_their_worker_is_killed_outright() -> None:
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    child = int(owner.stdout.readline())
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and alive(child):
        time.sleep(0.2)
    assert not alive(child)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but not yet reaped by init; /proc says which.
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "zombie" not in status.read_text()
