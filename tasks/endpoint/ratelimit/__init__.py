"""The endpoint rate limit every process shares (LLM and remote embedding): the algorithm
(window.py) and its storage as one atomic Lua script in Redis (redis_backend.py)."""

from tasks.endpoint.ratelimit.window import Limits, Ticket, admission_wait

__all__ = ["Limits", "Ticket", "admission_wait"]
