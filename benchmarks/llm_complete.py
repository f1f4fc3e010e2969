"""`ragmill.llm.complete`: one prompt, one answer, through the shared limit.

The unit of work of the LLM limit's benchmark (tests/bench/llm_limit.py), which starts its
workers with `-I benchmarks.llm_complete`; ragmill's own tasks never send it.
"""

from __future__ import annotations

from typing import Any

from celery import Task

from tasks.celery import app
from tasks.llm import engine


@app.task(name="ragmill.llm.complete", bind=True, acks_late=True)
def complete(self: Task, prompt: str, max_tokens: int | None = None) -> dict[str, Any]:
    """One prompt, one answer, through the shared limit."""
    reply = engine.caller().chat([{"role": "user", "content": prompt}], max_tokens=max_tokens)
    return {"chars": len(reply.text), "tokens": reply.total_tokens}
