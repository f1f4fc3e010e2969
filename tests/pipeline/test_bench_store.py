"""The store benchmark upserts real chunks into a real Chroma server and reports its CPU."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks import store

EXAMPLE_BOOKS = Path(__file__).resolve().parents[2] / "examples" / "books"


def test_the_store_bench_reports_server_cpu_by_request_size(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store.main([str(EXAMPLE_BOOKS), "--chunks", "200", "--sizes", "10,100"])
    out = capsys.readouterr().out
    costs = [float(ms) for ms in re.findall(r"chunks a request: ([\d.]+) ms", out)]
    assert len(costs) == 2 and all(ms > 0 for ms in costs)
    assert "ms a request" in out
    assert "200 chunks a size" in out


def test_a_folder_without_books_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        store.main([str(tmp_path)])
