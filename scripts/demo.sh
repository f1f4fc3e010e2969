#!/usr/bin/env bash
# Sets up ragmill, ingests the three books in examples/books/ on the embedded local stack
# (redis-server, Chroma and the workers start under ./data and stop when done), and asks a question.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/ragmill ingest examples/books/
.venv/bin/ragmill query "a monster made by a scientist" -k 3
