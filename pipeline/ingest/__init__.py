"""One ingest run as a library call, from sources to a report.

    run.py           the request, the cluster it runs on, the collection claim: `ingest()`
    submission.py    sources planned, fetch tasks sent with backpressure, the ledger watched
    progress_bar.py  the report and the live bar drawn from the run ledger's snapshots
    status.py        what recent runs did, read back from the ledger

May import stack/ and errors.py; never search/, serve/ or cli/.
"""
