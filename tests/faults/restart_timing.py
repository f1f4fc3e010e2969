"""How much Redis restarts cost an ingest at the default visibility timeout (not a test).

    PYTHONPATH=. HF_HUB_OFFLINE=1 .venv/bin/python -m tests.faults.restart_timing 5

The fault cluster's three books on one io and one embed worker, all with
RAGMILL_VISIBILITY_TIMEOUT=300 (a 60 s stall period): one ingest to load the models, one clean,
then one during which Redis is stopped for 1 s and started again RESTARTS times, 3 s apart.
Prints both times, the chunks stored and the fetches re-sent (docs/reliability.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.faults.cluster import fault_cluster, run_ingest
from tests.faults.harness import BOOKS
from tests.support.cli import ingest_argv

DEFAULT_TIMEOUT = {"RAGMILL_VISIBILITY_TIMEOUT": "300"}


def main(restarts: int) -> None:
    with tempfile.TemporaryDirectory() as root, fault_cluster(Path(root), BOOKS) as cluster:
        env = cluster.env(**DEFAULT_TIMEOUT)
        cluster.start_worker("io", concurrency=4, wait=False, env=DEFAULT_TIMEOUT)
        cluster.start_worker("embed", concurrency=2, wait=False, env=DEFAULT_TIMEOUT)
        for name in ("io", "embed"):
            cluster.wait_for_worker(name)
        run_ingest(cluster, "warm", "2001", env=env)
        clean = json.loads(run_ingest(cluster, "clean", *BOOKS, env=env).stdout)
        print(f"clean: {clean['seconds']} s, {clean['chunks_stored']} chunks", flush=True)
        process = subprocess.Popen(ingest_argv("restarts", *BOOKS), env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(4)  # the run is under way
        for _ in range(restarts):
            cluster.outage("redis", 1)
            time.sleep(3)
        out, err = process.communicate(timeout=900)
        if process.returncode != 0 or not out.strip():
            raise SystemExit(
                f"the ingest under restarts exited {process.returncode}: {err[-2000:]}"
            )
        faulted = json.loads(out)
        print(f"{restarts} restarts: {faulted['seconds']} s, {faulted['chunks_stored']} of "
              f"{faulted['chunks']} chunks, {faulted['resent']} fetch(es) re-sent, exit "
              f"{process.returncode}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
