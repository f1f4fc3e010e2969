"""Every queue's name, in one place; celery_config declares each of them in `task_queues`."""

from __future__ import annotations

from tasks.settings import Settings

# threads: downloads, decoding, chunking, waiting on the network.
IO = "io"
# prefork, one process per core: the model runs here.
EMBED = "embed"
# threads, many requests in flight: an OpenAI-compatible endpoint makes the vectors.
EMBED_REMOTE = "embed-remote"
# threads: LLM calls under the shared Redis limit.
LLM = "llm"

ALL = (IO, EMBED, EMBED_REMOTE, LLM)


def embed_queue(settings: Settings) -> str:
    """The queue for `settings`' embedding backend (EMBED_BACKEND)."""
    from tasks.embedding.backend import EmbeddingBackend

    return EmbeddingBackend.from_settings(settings).queue
