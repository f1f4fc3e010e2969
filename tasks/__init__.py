"""What runs inside a ragmill worker: the Celery app, its tasks and the engines they drive.

Importing this package builds nothing. `celery -A tasks` finds the app in `tasks.celery`;
task modules (fetch, embed, llm.tasks) register on it when a worker imports them.

    celery.py, celery_config.py, queues.py   the app, its configuration, every queue's name
    base.py, messages.py                     what every task shares; the JSON messages
    fetch.py, extraction.py, books.py        the io stage: a source becomes chunks
    embed.py, store.py                       the embed stage: chunks become vectors in Chroma
    ledger.py                                the run ledger in Redis: what is done and missing
    collection_record.py                     what made a collection, checked by writers/readers
    settings.py, setting_checks.py           environment variables, parsed and checked once
    resources.py                             per-process engines, made on first use
    embedding/                               model backends (local encoders, remote endpoint)
    endpoint/                                OpenAI-compatible endpoints: errors, shared limit
    llm/                                     prompts and the LLM caller, on top of endpoint/

May import corpus/, never pipeline/.
"""
