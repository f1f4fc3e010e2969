"""The chunking benchmark prepares real books and checks both ways of counting agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import chunking

EXAMPLE_BOOKS = Path(__file__).resolve().parents[2] / "examples" / "books"


def test_the_chunking_bench_reports_cpu_a_chunk_and_equal_counts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bench sets it for its own process; monkeypatch puts the old value back afterwards.
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    chunking.main([str(EXAMPLE_BOOKS), "--books", "3"])
    out = capsys.readouterr().out
    assert "3 books" in out
    assert "ms of CPU a chunk" in out
    assert "both ways give the same counts" in out


def test_a_folder_without_books_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        chunking.main([str(tmp_path)])
