"""LLM work inside a worker: the chat client, the caller under the shared limit, the tasks.

    client.py            one chat completion over requests, errors sorted by what to do next
    caller.py            admission + call + retries: what a task uses
    engine.py            the per-process LLM engine built from settings
    contextualize.py     the prompt that situates a chunk in its book
    tasks.py             the `ragmill.llm.*` Celery tasks (queue `llm`, threads pool)

The requests- and tokens-per-minute limit is tasks/endpoint/ratelimit/, shared with remote
embedding.
"""
