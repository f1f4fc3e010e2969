"""Runs every bench measurement in order and assembles the report."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

import numpy as np

from pipeline.bench.corpus import BenchCorpus, CorpusSet, ServedBook
from pipeline.bench.e2e import RunResult, bench_stack, run_pipeline
from pipeline.bench.machine import deterministic_sample, load_average, machine_info
from pipeline.bench.mirror import serve_books
from pipeline.bench.probes import Probes
from pipeline.bench.quality import QUERIES, compare
from pipeline.bench.report import BenchReport, Row
from pipeline.bench.retrieval import bench_retrieval
from tasks.settings import Settings

WARMUP_BATCHES_PER_PROCESS = 2


@dataclass(frozen=True, kw_only=True)
class BenchOptions:
    """What to measure, and how much of it."""

    sizes: list[int]
    max_procs: int
    backends: list[str]
    backend: str  # the pipeline's backend for the end-to-end runs
    limit_chunks: int
    scaling_chunks: int
    batch_sizes: list[int]
    sweep_chunks: int
    baseline: bool
    pool: bool
    corpus_dir: Path
    out_dir: Path
    command: str = ""
    keep: bool = False
    # Chunks of the question books in the retrieval-quality run; 0 skips it.
    retrieval_chunks: int = 0
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)


class Bench:
    """One bench run: probes in child processes, stacks of real services, one report."""

    def __init__(self, options: BenchOptions, settings: Settings, say: Callable[[str], None]):
        self.o = options
        self.settings = settings
        self.say = say
        self.corpus = BenchCorpus(options.corpus_dir, settings)
        self.work = Path(tempfile.mkdtemp(prefix="ragmill-bench-"))
        self.probes = Probes(self.work, settings.model)
        self.runs = 0
        self.served: dict[str, ServedBook] = {}
        # Bare-encode rates per backend and configuration ("1x2", "2x1"), one per measurement.
        self.limit_rates: dict[str, dict[str, list[float]]] = {}
        self.run_settings = settings
        self.report = BenchReport(
            machine=machine_info(options.command),
            options={k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
        )

    def run(self) -> BenchReport:
        try:
            self._run()
        finally:
            if not self.o.keep:
                shutil.rmtree(self.work, ignore_errors=True)
        self.report.machine["load_end"] = load_average()
        return self.report

    def _run(self) -> None:
        sets = {size: self._take(size) for size in self.o.sizes}
        largest = sets[max(self.o.sizes)].texts
        sample = deterministic_sample(largest, self.o.limit_chunks)
        self.say(f"corpus ready: sizes {self.o.sizes}, bare-encode sample {len(sample)} chunks")
        self._prepare_models()
        # Every bare-encode measurement (before and after the end-to-end runs) reads this file.
        (self.work / "sample.json").write_text(json.dumps(sample))
        self._limits(sample)
        self._quality()
        if self.o.retrieval_chunks:
            self.report.retrieval = bench_retrieval(
                self.o.backends, self.corpus, self.settings, self.say, self.o.retrieval_chunks
            )
        if self.o.batch_sizes:
            self._sweep(sample[: self.o.sweep_chunks])
        scaling = self._end_to_end(sets)
        # The pipeline's backend once more after the end-to-end runs: its limit is the mean of
        # both measurements, so a busier or quieter spell during either does not decide a ratio.
        self._limit(self.o.backend, sample, when="after")
        for row in self.report.rows:
            self._ratios(row)
        self._summarise(scaling)

    @property
    def limits(self) -> dict[str, float]:
        """Each backend's limit: its best configuration, by the mean of its measurements."""
        return {backend: fmean(self._best_rates(backend)) for backend in self.limit_rates}

    def _best_rates(self, backend: str) -> list[float]:
        """The measurements of `backend`'s best configuration by their mean, in the order made
        (before the end-to-end runs, then after)."""
        return max(self.limit_rates.get(backend, {}).values(), key=fmean, default=[])

    # --- corpus -------------------------------------------------------------------------

    def _take(self, size: int) -> CorpusSet:
        self.runs += 1
        chosen = self.corpus.take(size, run=self.runs)
        for book in chosen.books:
            self.served[book.served_id] = book
        return chosen

    def _book_bytes(self, served_id: str) -> bytes | None:
        book = self.served.get(served_id)
        return None if book is None else self.corpus.served_bytes(book)

    # --- bare encode ---------------------------------------------------------------------

    def _prepare_models(self) -> None:
        """Make the ONNX exports now, timed, so no measured process pays for them."""
        from tasks.embedding.cache import cache_root, ensure_export, export_count
        from tasks.embedding.variants import resolve

        info: dict[str, Any] = {"cache": str(cache_root())}
        for backend in dict.fromkeys([*self.o.backends, self.o.backend]):
            if backend == "torch":
                continue
            before = export_count(self.settings.model)
            started = time.monotonic()
            ensure_export(self.settings.model, backend, self._variant(backend))
            seconds = time.monotonic() - started
            made = export_count(self.settings.model) > before
            info[f"{backend}_export"] = f"{seconds:.1f}s (exported now)" if made else "cached"
            info[f"{backend}_variant"] = resolve(backend, self._variant(backend)).name
        self.report.model_cache = info

    def _variant(self, backend: str) -> str | None:
        """EMBED_VARIANT for the pipeline's own backend (what its workers run), else the
        backend's default: the bare limit must measure the form the end-to-end runs use."""
        if backend == self.settings.embed_backend and self.settings.embed_variant:
            return self.settings.embed_variant
        return None

    def _probe(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        self.say(f"measuring {name} …")
        return self.probes.run(name, spec)

    def _parallel_probe(self, backend: str, sample: list[str], when: str) -> dict[str, Any]:
        """Bare encode of `sample` in one single-threaded process per core (probes.py)."""
        self.say(f"measuring limit-{backend} in {self.o.cores} processes …")
        spec = {
            "mode": "ragmill",
            "backend": backend,
            "variant": self._variant(backend),
            "threads": 1,
            "batch_size": self.settings.encode_batch_size,
        }
        return self.probes.parallel(f"{backend}-{when}", sample, self.o.cores, spec)

    def _limits(self, sample: list[str]) -> None:
        for backend in self.o.backends:
            self._limit(backend, sample, when="before", save=True)
        texts = self.work / "sample.json"
        cores = self.o.cores
        if self.o.baseline:
            r = self._probe("baseline", {"mode": "defaults", "texts": str(texts)})
            self.baseline = r["chunks_per_second"]
            self._add("baseline: ST defaults", "torch", 1, cores, r, note="threads: torch default")
        if self.o.pool:
            r = self._probe("pool", {"mode": "pool", "processes": cores, "texts": str(texts)})
            self._add("ST multi-process pool", "torch", cores, cores, r, note="threads: default")
        for row in self.report.rows:
            self._ratios(row)

    def _limit(self, backend: str, sample: list[str], *, when: str, save: bool = False) -> None:
        """Bare encode of `sample` with one process of a thread per core, then (several cores)
        one single-threaded process per core."""
        texts = self.work / "sample.json"
        cores = self.o.cores
        spec: dict[str, Any] = {
            "mode": "ragmill",
            "backend": backend,
            "variant": self._variant(backend),
            "threads": cores,
            "batch_size": self.settings.encode_batch_size,
            "texts": str(texts),
        }
        if save:
            # Vectors for the quality comparison (the same for every measurement).
            spec.update(
                queries=list(QUERIES),
                vectors=str(self.work / f"vectors-{backend}.npy"),
                query_vectors=str(self.work / f"queries-{backend}.npy"),
            )
        rates = self.limit_rates.setdefault(backend, {})
        r = self._probe(f"limit-{backend}-{when}", spec)
        rates.setdefault(f"1x{cores}", []).append(r["chunks_per_second"])
        loaded = f"{r['variant']}; model load {r['load_seconds']:.1f}s"
        note = f"threads, {when} end to end; {loaded}"
        self._add("limit: bare encode", backend, 1, cores, r, note=note)
        if cores > 1:
            r = self._parallel_probe(backend, sample, when)
            rates.setdefault(f"{cores}x1", []).append(r["chunks_per_second"])
            loaded = f"{r['variant']}; model load {r['load_seconds']:.1f}s"
            note = f"processes, {when} end to end; {loaded}"
            self._add("limit: bare encode", backend, cores, 1, r, note=note)

    def _add(
        self, run: str, backend: str, procs: int, threads: int, r: dict[str, Any], note: str = ""
    ) -> Row:
        row = Row(
            run=run,
            backend=backend,
            processes=procs,
            threads=threads,
            chunks=int(r["chunks"]),
            seconds=round(float(r["seconds"]), 2),
            chunks_per_second=round(float(r["chunks_per_second"]), 2),
            rss_mb=round(float(r["peak_rss_mb"]), 1) if r.get("peak_rss_mb") else None,
            note=note,
        )
        self.report.rows.append(row)
        return row

    def _bracket(self, row: Row) -> str:
        """The row's ratio to each measurement of its backend's limit, before and after the
        end-to-end runs.

        The limit is their mean; how far apart the two lie is how far the machine's own speed
        moved while the bench ran, and so how far a single run's ratio can be trusted.
        """
        rates = self._best_rates(row.backend)
        if len(rates) < 2:
            return ""
        before, after = (row.chunks_per_second / rate for rate in rates[:2])
        return f" (against the limit before {before:.3f}, after {after:.3f})"

    def _ratios(self, row: Row) -> None:
        limit = self.limits.get(row.backend)
        if limit:
            row.vs_limit = round(row.chunks_per_second / limit, 3)
        baseline = getattr(self, "baseline", None)
        if baseline:
            row.vs_baseline = round(row.chunks_per_second / baseline, 3)

    def _quality(self) -> None:
        ref = self.work / "vectors-torch.npy"
        if not ref.exists():
            return
        ref_docs, ref_queries = np.load(ref), np.load(self.work / "queries-torch.npy")
        for backend in self.o.backends:
            if backend == "torch":
                continue
            docs = np.load(self.work / f"vectors-{backend}.npy")
            queries = np.load(self.work / f"queries-{backend}.npy")
            q = compare(backend, docs, queries, ref_docs, ref_queries)
            self.report.quality.append(
                {**q.as_dict(), "queries": len(QUERIES), "chunks": len(docs)}
            )

    def _sweep(self, texts_list: list[str]) -> None:
        texts = self.work / "sweep.json"
        texts.write_text(json.dumps(texts_list))
        r = self._probe(
            "batch-sizes",
            {
                "mode": "sweep",
                "backend": self.o.backend,
                "variant": self._variant(self.o.backend),
                "threads": 1,
                "batch_size": self.settings.encode_batch_size,
                "batch_sizes": self.o.batch_sizes,
                "texts": str(texts),
            },
        )
        self.report.batch_sizes = [
            {"backend": self.o.backend, "chunks": len(texts_list), **row} for row in r["sweep"]
        ]

    # --- end to end ------------------------------------------------------------------------

    def _end_to_end(self, sets: dict[int, CorpusSet]) -> dict[int, float]:
        """The end-to-end and scaling runs; returns chunks/s by embed processes."""
        procs = list(range(self.o.max_procs, 0, -1))
        scaling: dict[int, float] = {}
        with serve_books(self._book_bytes) as mirror:
            # The mirror travels with each fetch task, from the submitting side's settings.
            self.run_settings = self.settings.with_changes(mirror=mirror)
            env = {
                "EMBED_BACKEND": self.o.backend,
                # One compute thread per embed process: the processes are the parallelism.
                "EMBED_THREADS": "1",
                "GUTENBERG_MIRROR": mirror,
            }
            for n in procs:
                self.say(f"starting a stack with {n} embed process(es) …")
                with bench_stack(self.work / f"stack-{n}", n, env) as (stack, info):
                    self._warm_up(stack, info, n)
                    if n == self.o.max_procs:
                        for size, chosen in sets.items():
                            result = self._measured_run(stack, info, chosen, f"size{size}-p{n}")
                            self._e2e_row(f"ragmill end to end, {size} chunks", n, result)
                    scaled = self._take(self.o.scaling_chunks)
                    result = self._measured_run(stack, info, scaled, f"scale-p{n}")
                    scaling[n] = result.chunks_per_second
                    self._e2e_row(f"ragmill scaling, {n} embed proc", n, result)
        return scaling

    def _warm_up(self, stack: Any, info: Any, n: int) -> None:
        """A short untimed run, so every embed process has loaded its model before timing."""
        warm = self._take(self.settings.batch_chunks * WARMUP_BATCHES_PER_PROCESS * n)
        self._measured_run(stack, info, warm, f"warmup-p{n}")

    def _measured_run(self, stack: Any, info: Any, chosen: CorpusSet, name: str) -> RunResult:
        self.say(f"end to end: {name}, {len(chosen.texts)} chunks …")
        result = run_pipeline(
            stack, info, chosen, settings=self.run_settings, collection=f"bench-{name}"
        )
        if result.failures or result.chunks != len(chosen.texts):
            raise RuntimeError(
                f"bench run {name}: {result.chunks} of {len(chosen.texts)} chunks stored, "
                f"{len(result.failures)} books failed ({'; '.join(result.failures[:3])}); "
                f"see the logs under {stack.logs}"
            )
        return result

    def _e2e_row(self, run: str, n: int, result: RunResult) -> None:
        row = Row(
            run=run,
            backend=self.o.backend,
            processes=n,
            threads=1,
            chunks=result.chunks,
            seconds=round(result.seconds, 2),
            chunks_per_second=round(result.chunks_per_second, 2),
            rss_mb=round(result.worker_rss_mb, 1),
            redis_peak_mb=round(result.redis_peak_mb, 2),
            note=f"{result.books} books; Redis at start {result.redis_start_mb:.2f} MiB",
        )
        self._ratios(row)
        self.report.rows.append(row)
        self.report.cpu[run] = result.cpu.per_chunk_ms(result.chunks)

    def _summarise(self, scaling: dict[int, float]) -> None:
        s = self.report.summary
        top = self.o.max_procs
        if 1 in scaling and top in scaling and top > 1:
            s[f"scaling efficiency 1 -> {top} procs"] = round(scaling[top] / (top * scaling[1]), 3)
        sized = [r for r in self.report.rows if r.run.startswith("ragmill end to end")]
        if sized and all(r.vs_limit is not None for r in sized):
            s[f"end to end / limit by size ({self.o.backend})"] = ", ".join(
                f"{r.chunks}: {r.vs_limit:.3f}{self._bracket(r)}" for r in sized
            )
        if sized:
            s["Redis peak MiB by size"] = ", ".join(f"{r.chunks}: {r.redis_peak_mb}" for r in sized)
        for backend, rate in self.limits.items():
            measured = ", ".join(
                f"{config}: {' then '.join(f'{r:.1f}' for r in rates)}"
                for config, rates in self.limit_rates[backend].items()
            )
            s[f"limit {backend} chunks/s"] = f"{rate:.1f} (best mean; measured {measured})"
        if self.o.backend in self.limits:
            # What a chunk may cost on the whole machine for the run to reach the limit, beside
            # the CPU table's "total".
            ms = self.o.cores * 1000 / self.limits[self.o.backend]
            s[f"machine time a chunk at the limit ({self.o.backend})"] = f"{ms:.2f} ms"

