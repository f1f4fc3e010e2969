"""What benchmarks/ceiling.py runs on: cut books, their real vectors, and a stack of real services.

The books are real Gutenberg texts, cut short so a run has the number of chunks asked for. Their
chunks are cut here exactly as an io worker cuts them (corpus.book.prepare_book with the same
settings) and embedded once with the real model; the table is kept under a name that hashes the
model and every chunk text, so the next run with the same books reuses it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.standin_embedder import VECTORS_ENV, VectorTable, text_key
from corpus.book import prepare_book
from pipeline.stack import services
from pipeline.stack.local import service_env
from pipeline.stack.processes import Service, spawn
from tasks import queues, resources
from tasks.fetch import chunk_item

# Bytes of Gutenberg text a 200-token chunk advances by (overlap taken off), roughly; only used
# to decide where to cut a book, the chunks are then counted exactly.
BYTES_A_CHUNK = 580
HOOK_MODULE = "benchmarks.standin_embedder"


def cut_books(folder: Path, chunks: int, books: int, out: Path) -> list[Path]:
    """The first `books` books of `folder`, each cut at a line end so all hold ~`chunks`."""
    files = sorted(folder.glob("pg*.txt"))[:books]
    if not files:
        raise SystemExit(f"{folder}: no pg*.txt books there; give a folder of Gutenberg books")
    limit = max(4000, chunks * BYTES_A_CHUNK // len(files))
    out.mkdir(parents=True, exist_ok=True)
    cut = []
    for path in files:
        data = path.read_bytes()
        if len(data) > limit:
            data = data[:limit].rsplit(b"\n", 1)[0] + b"\n"
        (out / path.name).write_bytes(data)
        cut.append(out / path.name)
    return cut


def chunk_texts(files: list[Path]) -> tuple[list[str], list[int]]:
    """Every chunk text of `files` and its token count, as an io worker would cut them."""
    settings = resources.settings()
    tokenizer = resources.tokenizer()
    config = resources.chunk_config(settings.chunk_tokens, settings.chunk_overlap)
    texts: list[str] = []
    tokens: list[int] = []
    for path in files:
        book = prepare_book(path.read_bytes(), name=path.name, tokenizer=tokenizer,
                            config=config, fallback_id=path.stem)
        items = [chunk_item(chunk) for chunk in book.chunks]
        texts += [item.text for item in items]
        tokens += [item.tokens for item in items]
    return texts, tokens


def vector_table(texts: list[str], tokens: list[int], cache: Path) -> Path:
    """A table of the texts' real vectors, made with the configured model unless cached."""
    settings = resources.settings()
    digest = hashlib.blake2b(digest_size=12)
    for part in (settings.model, settings.embed_backend, settings.embed_variant, *texts):
        digest.update(text_key(part).encode())
    path = cache / f"standin-{digest.hexdigest()}.npz"
    if not path.exists():
        from tasks.embedding.backend import EmbeddingBackend

        encoder = EmbeddingBackend.from_settings(settings).local_encoder(
            settings.encode_batch_size)
        VectorTable.save(path, texts, encoder.encode(texts, lengths=tokens))
    return path


@dataclass
class Stack:
    """redis-server, a Chroma server, an io worker and a stand-in embed worker, running."""

    redis_url: str
    chroma_url: str
    root: Path  # the stack's directory; Chroma's data is in root / "chroma"
    services: list[Service] = field(default_factory=list)

    def pids(self) -> dict[str, int]:
        return {s.name: s.pid for s in self.services}

    def log(self, name: str) -> str:
        service = next(s for s in self.services if s.name == name)
        return service.log_path.read_text(errors="replace")


@contextlib.contextmanager
def running_stack(
    workdir: Path, processes: int, table: Path, embed_env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """Start the services in `workdir`; stop them, workers first, whatever happens."""
    logs = workdir / "logs"
    env = service_env(workdir)
    started: list[Service] = []
    try:
        redis_server, redis_url = services.start_redis(workdir / "redis", logs, persist=False,
                                                       env=env)
        started.append(redis_server)
        chroma, chroma_url = services.start_chroma(workdir / "chroma", logs, env)
        started.append(chroma)
        env.update(REDIS_URL=redis_url, CHROMA_URL=chroma_url)
        started += start_workers(env, logs, processes, table, embed_env or {})
        yield Stack(redis_url, chroma_url, workdir, started)
    finally:
        for service in reversed(started):
            service.stop(grace=20.0)


def start_workers(
    env: dict[str, str], logs: Path, processes: int, table: Path, embed_env: dict[str, str]
) -> list[Service]:
    """An io worker as `ragmill ingest` starts it, and an embed worker with the stand-in hook."""
    tag = str(os.getpid())
    io = services.start_worker(queues.IO, env, logs, name=f"io-{tag}", concurrency=8,
                               service_name="worker-io", death_signal=signal.SIGKILL,
                               wait=False)
    argv = services.worker_argv(queues.EMBED, concurrency=processes, name=f"embed-{tag}@%h")
    # -I imports the hook in the worker's main process before the pool forks; service_env puts
    # the checkout (and with it benchmarks/) on PYTHONPATH.
    embed = spawn("worker-embed", [*argv, "-I", HOOK_MODULE],
                           env={**env, **embed_env, VECTORS_ENV: str(table)},
                           log_path=logs / "worker-embed.log", cwd=Path.cwd(),
                           death_signal=signal.SIGKILL)
    services.wait_for_workers(env["REDIS_URL"], {f"io-{tag}": io, f"embed-{tag}": embed})
    return [io, embed]
