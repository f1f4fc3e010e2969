"""The `ragmill.llm.*` Celery tasks (queue `llm`, threads pool: the work is waiting on HTTP).

How a task waits for the shared limit: in place. A worker thread that is not admitted sleeps
until the limiter says (each sleep short, see RedisLimiter.acquire) while its message stays
unacknowledged; with prefetch 1 on a threads pool that holds one message per thread, not a pile.
`self.retry(countdown=...)` would instead park ETA copies of waiting tasks in worker memory,
and all of them would wake together. A contextualize task that has waited through its budget
(LLM_TASK_BUDGET_SECONDS, and never more than half the broker's visibility timeout, past which
Redis would deliver the unacknowledged message a second time) sends its batch again as a fresh
message at the back of the queue, with no ETA; the contexts it already has are in the run
ledger, so no chunk is asked for twice and the batch is embedded once it is complete.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from tasks import resources
from tasks.base import RunTask
from tasks.celery import app
from tasks.embed import embed_batch
from tasks.endpoint.ratelimit.redis_backend import AdmissionTimeout
from tasks.ledger import RunLedger
from tasks.llm import engine
from tasks.llm.contextualize import clean_context, context_messages
from tasks.llm.errors import LLMError
from tasks.messages import ContextualizeBatch

log = logging.getLogger(__name__)


class ContextualizeTask(RunTask):
    """Embeds the batch anyway, without the missing contexts, if the task fails for good."""

    message_type = ContextualizeBatch
    # Redis away for a moment must not drop the batch; LLM failures are handled per chunk.
    dont_autoretry_for = (LLMError,)

    def record_failure(self, message: ContextualizeBatch, ledger: RunLedger, reason: str) -> None:
        for chunk in message.chunks:
            ledger.record_context(chunk.id, None, reason)
        send_embed(ledger, message)


@app.task(name="ragmill.llm.contextualize_batch", base=ContextualizeTask, bind=True)
def contextualize_batch(
    self: ContextualizeTask, message: ContextualizeBatch
) -> dict[str, Any]:
    """Write a context for each chunk of an embed batch, then send the batch to be embedded."""
    ledger = self.ledger(message)
    book, chunks = message.book, message.chunks
    deadline = time.monotonic() + resources.settings().llm_task_budget
    known = ledger.contexts([c.id for c in chunks])
    failed: list[str] = []
    for i, chunk in enumerate(chunks):
        if chunk.id in known:
            continue
        previous = chunks[i - 1].text if i else message.before
        messages = context_messages(book, chunk.text, chunk.position, previous)
        try:
            if time.monotonic() > deadline:
                raise AdmissionTimeout("this task's budget is spent", 0.0)
            reply = engine.caller().chat(messages, deadline=deadline)
        except AdmissionTimeout:
            # Out of budget: hand the rest to a fresh message (no ETA) and free this thread.
            self.send(message)
            return {"book": book.book_id, "batch": message.index, "requeued": True}
        except LLMError as exc:
            reason = str(exc).splitlines()[0]
            if ledger.record_context(chunk.id, None, reason):
                failed.append(reason)
            continue
        ledger.record_context(chunk.id, clean_context(reply.text))
    if failed:
        ledger.warn(
            f"{book.source}: batch {message.index}: {len(failed)} chunk(s) embedded without a "
            f"context ({failed[-1]})"
        )
    send_embed(ledger, message)
    return {
        "book": book.book_id, "batch": message.index, "chunks": len(chunks), "failed": len(failed)
    }


def send_embed(ledger: RunLedger, message: ContextualizeBatch) -> None:
    """Queue the batch for embedding with whatever contexts it has.

    A redelivered task may send it twice; embed_batch upserts and the ledger counts a batch once.
    """
    contexts = ledger.contexts([c.id for c in message.chunks])
    chunks = tuple(
        c.model_copy(update={"context": contexts[c.id]}) if contexts.get(c.id) else c
        for c in message.chunks
    )
    embed_batch.send(message.embed_batch(chunks))
