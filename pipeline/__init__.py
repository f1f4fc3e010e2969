"""What a person runs, in subpackages by idea; each imports only those below it.

    cli/      the `ragmill` command: one module per group of commands, output formatting
    serve/    the search service: HTTP API, page, access rule, its client
    eval/     retrieval quality: questions, matching, metrics, comparison
    bench/    `ragmill bench`: throughput against the machine's limit, end to end
    search/   the one read path: `Library`, meaning/keyword/hybrid retrieval, filters, answers
    ingest/   one ingest run: plan, submission with backpressure, progress bar, status
    stack/    where the cluster is (`find_cluster`), the local stack, services, broker probes
    errors.py the error root every front end maps in one place

Layers, top to bottom: cli -> serve, bench -> eval, search -> ingest -> stack -> errors; all may
import tasks/ and corpus/, never the other way.
"""
