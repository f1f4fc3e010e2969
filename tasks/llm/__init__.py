"""LLM work inside a worker: settings, the OpenAI-compatible client, the shared rate limit, tasks.

    settings.py          LLM_* variables, parsed once
    client.py            one chat completion over requests, errors sorted by what to do next
    ratelimit/window.py  the sliding-window algorithm, pure (fast to test)
    ratelimit/redis_backend.py  the same algorithm as one atomic Lua script, shared by every process
    caller.py            admission + call + retries: what a task uses
    contextualize.py     the prompt that situates a chunk in its book
    tasks.py             the `ragmill.llm.*` Celery tasks (queue `llm`, threads pool)
"""
