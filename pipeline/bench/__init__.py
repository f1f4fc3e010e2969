"""`ragmill bench`: embedding throughput against the machine's limit, end to end.

Runs, in one process tree and one run over the same chunks: bare `encode` per backend (the limit),
sentence-transformers' defaults (the baseline) and its multi-process pool, ragmill end to end
through real Celery workers, Redis and Chroma at several corpus sizes, and ragmill with 1..N embed
processes; then prints one table and writes it as JSON and Markdown.
"""
