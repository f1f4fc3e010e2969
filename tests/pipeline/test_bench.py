"""`ragmill bench` through real processes: its own redis-server, Chroma, workers and mirror.

A tiny run (64 chunks, one embed process) checks that every part of the table is produced
with sane fields. Timings are printed by the bench, never asserted here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.support.shared import require_gutenberg_books

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, str]:
    corpus = require_gutenberg_books()
    out = tmp_path_factory.mktemp("bench")
    result = run_cli(
        [
            "bench",
            "--chunks",
            "64",
            "--backends",
            "torch,onnx",
            # fp32, whose vectors the quality check below compares with torch's, in a variant
            # other than the default: the bare limit must measure what the workers run.
            "--backend",
            "onnx",
            # One embed process keeps this run to one stack; scaling is the full bench's job.
            "--max-procs",
            "1",
            "--batch-sizes",
            "32",
            "--no-pool",
            "--no-baseline",
            # Recall on the bundled questions embeds thousands of chunks a backend; it has tests
            # of its own (test_bench_retrieval.py).
            "--retrieval-chunks",
            "0",
            "--corpus",
            str(corpus),
            "--out",
            str(out),
        ],
        {**os.environ, "EMBED_BACKEND": "onnx", "EMBED_VARIANT": "fp32"},
        timeout=600,
    )
    assert result.code == 0, result.stderr[-3000:]
    return (
        json.loads((out / "bench.json").read_text()),
        (out / "bench.md").read_text(),
        result.stdout,
    )


def test_table_has_every_part(bench_run: tuple[dict, str, str]) -> None:
    data, _, _ = bench_run
    runs = [r["run"] for r in data["rows"]]
    # With more than one core each backend's limit is measured with threads and with processes.
    per_backend = 2 if (os.cpu_count() or 1) > 1 else 1
    # The pipeline's backend (onnx) is measured again after the end-to-end runs.
    assert runs == [
        *["limit: bare encode"] * (2 * per_backend),
        "ragmill end to end, 64 chunks",
        "ragmill scaling, 1 embed proc",
        *["limit: bare encode"] * per_backend,
    ]
    limit_rows = [r for r in data["rows"] if r["run"] == "limit: bare encode"]
    assert [r["backend"] for r in limit_rows] == ["torch"] * per_backend + ["onnx"] * (
        2 * per_backend
    )
    assert ["before" in r["note"] for r in limit_rows] == [True] * (2 * per_backend) + [
        False
    ] * per_backend
    for row in data["rows"]:
        assert row["chunks"] == 64
        assert row["chunks_per_second"] > 0
        assert row["seconds"] > 0
        assert row["rss_mb"] > 50, row
        assert row["vs_limit"] > 0
        assert row["vs_baseline"] is None  # --no-baseline
    e2e = [r for r in data["rows"] if r["run"].startswith("ragmill")]
    assert {r["backend"] for r in e2e} == {"onnx"}
    assert [r["processes"] for r in e2e] == [1, 1]
    for row in e2e:
        assert row["threads"] == 1
        assert row["redis_peak_mb"] > 0.1
    # A backend's limit is its best configuration by the mean of that configuration's
    # measurements; every bare-encode row is measured against it.
    for backend in ("torch", "onnx"):
        by_config: dict[tuple[int, int], list[float]] = {}
        for r in limit_rows:
            if r["backend"] == backend:
                by_config.setdefault((r["processes"], r["threads"]), []).append(r["vs_limit"])
        means = [sum(v) / len(v) for v in by_config.values()]
        assert max(means) == pytest.approx(1.0, abs=0.002)


def test_cpu_of_each_run_by_process(bench_run: tuple[dict, str, str]) -> None:
    data, md, _ = bench_run
    e2e = [r["run"] for r in data["rows"] if r["run"].startswith("ragmill")]
    assert list(data["cpu"]) == e2e
    for run, ms in data["cpu"].items():
        # The embed process encodes every chunk, so it spends the most; Chroma stores them all.
        assert ms["embed"] > 1.0, (run, ms)
        assert ms["chroma"] > 0, (run, ms)
        assert ms["embed"] > ms["chroma"] and ms["embed"] > ms["io worker"], (run, ms)
        assert all(value >= 0 for value in ms.values()), (run, ms)
        named = sum(v for k, v in ms.items() if k not in ("idle", "total"))
        assert ms["total"] == pytest.approx(named, abs=0.05)
        # Busy and idle together are the cores over the run (the readings span a little more).
        row = next(r for r in data["rows"] if r["run"] == run)
        machine = data["machine"]["cores"] * row["seconds"] * 1000 / row["chunks"]
        assert machine * 0.9 <= ms["total"] + ms["idle"] <= machine * 1.5, (run, ms, machine)
    assert "CPU a chunk by process, ms" in md
    assert "machine time a chunk at the limit (onnx)" in data["summary"]


def test_ratio_against_each_measurement_of_the_limit(bench_run: tuple[dict, str, str]) -> None:
    data, _, _ = bench_run
    ratio = data["summary"]["end to end / limit by size (onnx)"]
    # "64: 0.812 (against the limit before 0.790, after 0.835)"
    size, rest = ratio.split(": ", 1)
    mean = float(rest.split(" ", 1)[0])
    before = float(rest.split("before ", 1)[1].split(",")[0])
    after = float(rest.split("after ", 1)[1].rstrip(")"))
    e2e = next(r for r in data["rows"] if r["run"] == f"ragmill end to end, {size} chunks")
    # The best configuration's two measurements, in the order they were made.
    onnx = [r for r in data["rows"] if r["run"] == "limit: bare encode" and r["backend"] == "onnx"]
    configs: dict[tuple[int, int], list[float]] = {}
    for r in onnx:
        configs.setdefault((r["processes"], r["threads"]), []).append(r["chunks_per_second"])
    rates = max(configs.values(), key=lambda v: sum(v) / len(v))
    speed = e2e["chunks_per_second"]
    assert before == pytest.approx(speed / rates[0], abs=0.002)
    assert after == pytest.approx(speed / rates[1], abs=0.002)
    # The ratio to the limit (their mean) lies between the two.
    assert min(before, after) - 0.002 <= mean <= max(before, after) + 0.002


def test_quality_and_batch_sizes_are_measured(bench_run: tuple[dict, str, str]) -> None:
    data, _, _ = bench_run
    (onnx,) = data["quality"]
    assert onnx["backend"] == "onnx"
    assert onnx["cosine_min"] >= 0.999
    assert onnx["recall_at_5"] >= 0.9
    sizes = [(b["batch_size"], b["order"]) for b in data["batch_sizes"]]
    assert sizes == [(32, "tokens"), (32, "characters")]
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"]
    assert data["model_cache"]["onnx_export"]
    assert data["model_cache"]["onnx_variant"] == "fp32"
    onnx_limits = [
        r for r in data["rows"] if r["run"].startswith("limit") and r["backend"] == "onnx"
    ]
    assert onnx_limits and all("; fp32;" in r["note"] for r in onnx_limits)


def test_markdown_and_printed_table_agree(bench_run: tuple[dict, str, str]) -> None:
    data, md, stdout = bench_run
    assert "| run | backend | procs x threads | chunks | seconds | chunks/s |" in md
    for row in data["rows"]:
        assert f"| {row['run']} | {row['backend']} |" in md
        assert row["run"] in stdout
    assert "ragmill bench --chunks 64" in md


def test_bad_options_fail_with_one_line(tmp_path: Path) -> None:

    bad_backend = run_cli(["bench", "--backends", "torch,tf"], dict(os.environ), timeout=60)
    assert bad_backend.code == 2
    assert "choose from torch, onnx, onnx-int8" in bad_backend.stderr
    no_corpus = run_cli(
        ["bench", "--chunks", "20", "--corpus", str(tmp_path), "--out", str(tmp_path)],
        dict(os.environ),
        timeout=60,
    )
    assert no_corpus.code == 1
    assert "no catalog.csv" in no_corpus.stderr
    assert len(no_corpus.stderr.strip().splitlines()) == 1
