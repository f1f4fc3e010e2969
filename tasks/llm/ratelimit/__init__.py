"""The LLM rate limit shared by every process: the algorithm (window.py) and its Redis storage."""

from tasks.llm.ratelimit.window import Limits, Ticket, admission_wait

__all__ = ["Limits", "Ticket", "admission_wait"]
