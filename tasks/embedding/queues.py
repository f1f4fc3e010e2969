"""Which queue embed batches go to: the worker pool must suit where the vectors are made."""

from __future__ import annotations

from tasks.settings import Settings

# prefork, one process per core: the model runs here.
LOCAL_QUEUE = "embed"
# threads, many requests in flight: an OpenAI-compatible endpoint makes the vectors.
REMOTE_QUEUE = "embed-remote"


def embed_queue(settings: Settings) -> str:
    """The queue for `settings`' embedding backend (EMBED_BACKEND)."""
    return REMOTE_QUEUE if settings.remote_embedding else LOCAL_QUEUE
