#!/usr/bin/env bash
# Sets up ragmill with its test tools (plus Chromium for the Flower browser test) and runs the
# linters and the whole test suite: unit, end-to-end, fault and browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
APT_EXTRA="chromium chromium-driver docker-compose ${APT_EXTRA:-}" PIP_EXTRAS="[test]" scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/ruff check .
.venv/bin/mypy
# Two test processes, each taking whole files (a file's servers start once): most tests wait on
# workers and servers, so two overlap well even on two cores. RAGMILL_TEST_PROCESSES=0 runs one.
.venv/bin/pytest -n "${RAGMILL_TEST_PROCESSES:-2}" --dist loadfile "$@"
