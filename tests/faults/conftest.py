"""Fixtures of the fault tests: a private cluster per test and the chunk ids it must end with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.cluster import FaultCluster, expected_ids, fault_cluster
from tests.faults.harness import BOOKS


@pytest.fixture(scope="session")
def expected() -> set[str]:
    return expected_ids(BOOKS)


@pytest.fixture
def private_cluster(tmp_path: Path) -> Iterator[FaultCluster]:
    """Redis, Chroma and a mirror of BOOKS of this test's own; the test starts the workers."""
    with fault_cluster(tmp_path, BOOKS) as cluster:
        yield cluster


@pytest.fixture
def cluster(private_cluster: FaultCluster) -> FaultCluster:
    """A private cluster with its standard io and embed workers answering.

    In the fault tests it stands in for the session cluster of tests/conftest.py, which other
    tests share and a fault test must not break.
    """
    private_cluster.start_standard_workers()
    return private_cluster
