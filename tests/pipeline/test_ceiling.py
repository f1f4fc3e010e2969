"""The ceiling benchmark, small: real services, real books, stand-in embed processes.

A few hundred chunks go through redis-server, a Chroma server, an io worker and an embed worker
whose model is the stand-in table (benchmarks/standin_embedder.py). The test checks that every
chunk landed, that the stand-in (not the model) served every embed process, that each part's CPU
was counted, and that the capacity model follows from the measured figures. Timings are printed,
never asserted: the machine is shared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import ceiling
from benchmarks.standin_embedder import VectorTable
from tests.support.shared import require_gutenberg_books


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> ceiling.Ceiling:
    folder = require_gutenberg_books()
    workdir = tmp_path_factory.mktemp("ceiling")
    measured = ceiling.measure(folder, chunks=300, books=3, processes=2, workdir=workdir,
                               cache=workdir / "vectors", machine_rate=100.0, chroma_cores=4)
    print("\n".join(ceiling.report_lines(measured)))
    return measured


def test_every_chunk_is_stored_through_the_stand_in(result: ceiling.Ceiling) -> None:
    assert result.failures == []
    assert result.chunks_cut >= 200
    assert result.chunks_stored == result.chunks_cut
    # Each of the 2 pool processes loaded the table; none ran the model.
    assert result.standin_processes == result.embed_processes == 2


def test_each_shared_part_and_the_workers_spend_cpu(result: ceiling.Ceiling) -> None:
    for part in ("chroma", "redis", "client", "workers"):
        assert result.ms_a_chunk[part] > 0, part
    # Every batch is counted in the ledger: at least one Redis command a chunk's batch.
    assert result.redis_commands_a_chunk > 0


def test_the_capacity_model_follows_from_the_figures(result: ceiling.Ceiling) -> None:
    model, ms = result.capacity, result.ms_a_chunk
    assert model.ceilings["chroma"] == pytest.approx(4 * 1000 / ms["chroma"], rel=1e-3)
    assert model.ceilings["redis"] == pytest.approx(1000 / ms["redis"], rel=1e-3)
    assert model.cluster_rate == min(model.ceilings.values())
    assert model.ceilings[model.first_to_give_out] == model.cluster_rate
    assert model.machines == int(model.cluster_rate // 100.0)


def test_a_text_missing_from_the_table_is_an_error(tmp_path: Path) -> None:
    """The stand-in never makes a vector up: a chunk it was not given fails its batch."""
    path = tmp_path / "table.npz"
    VectorTable.save(path, ["known"], np.ones((1, 4), dtype=np.float32))
    table = VectorTable.load(path)
    assert table.encode(["known"]).shape == (1, 4)
    with pytest.raises(LookupError):
        table.encode(["known", "unknown"])


def test_jitter_keeps_copies_near_but_apart(tmp_path: Path) -> None:
    """benchmarks/million.py's copies of a text get near-duplicate, never identical, vectors."""
    path = tmp_path / "table.npz"
    base = np.eye(1, 384, dtype=np.float32)
    VectorTable.save(path, ["text"], base)
    table = VectorTable.load(path, jitter=0.1)
    first, second = table.encode(["text"])[0], table.encode(["text"])[0]
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)
    assert not np.allclose(first, second)
    assert float(first @ base[0]) > 0.99
