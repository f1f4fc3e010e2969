"""Where the cluster is, and the local one ragmill starts when none is given.

    cluster.py     `find_cluster()`: Redis, Chroma, the search service, and the local stack
    local.py       the local stack under the data directory: lock, stack.json, start and stop
    services.py    each service's command line and readiness check (redis, chroma, workers, flower)
    service.py     `ragmill serve` as a service of the local stack
    processes.py   starting, watching and stopping child processes
    broker.py      the client's Redis connection and worker probes
    collection.py  opening a collection on the cluster found, checked against its record

May import errors.py only, besides tasks/ and corpus/.
"""
