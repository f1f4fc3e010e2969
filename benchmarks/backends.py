"""Every ONNX variant of the model side by side: `python -m benchmarks.backends`.

For each variant (tasks/embedding/variants.py) one fresh process with one compute thread encodes
the same real chunks: chunks/s, peak resident memory, whether torch was imported, and how far a
chunk's vector moves when other chunks share its batch (the same text alone and in a batch of 8).
The parent then compares each variant's vectors and top-5 lists with fp32's. One run, one
command, so the figures compare.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.bench.corpus import BenchCorpus
from pipeline.bench.probe import peak_rss_mb
from pipeline.bench.quality import QUERIES, compare
from tasks.settings import Settings

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "gutenberg"
# How many chunks are also encoded alone to measure how much batch-mates move a vector.
SPREAD_CHUNKS = 48


def sample_chunks(corpus_dir: Path, count: int, seed: int = 7) -> list[str]:
    """`count` real chunks from the opening books of the corpus, drawn with a fixed seed."""
    corpus = BenchCorpus(corpus_dir, Settings.from_env())
    chunks: list[str] = []
    for book in corpus.ids[:6]:
        chunks += corpus.chunk_texts(book, 4000)
    return random.Random(seed).sample(chunks, min(count, len(chunks)))


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """One variant in this (fresh) process: speed, memory, batch spread; saves its vectors."""
    from tasks.embedding import Embedder, limit_compute_threads

    texts: list[str] = json.loads(Path(spec["texts"]).read_text())
    limit_compute_threads(1)
    started = time.perf_counter()
    embedder = Embedder(
        spec["model"], backend=spec["backend"], variant=spec["variant"], batch_size=8, threads=1
    )
    load_seconds = time.perf_counter() - started
    lengths = embedder.token_lengths(texts)
    embedder.encode(texts[:16], lengths=lengths[:16])  # warm-up: lazy allocations, kernel picks
    started = time.perf_counter()
    vectors = embedder.encode(texts, lengths=lengths)
    seconds = time.perf_counter() - started
    alone = np.vstack([embedder.encode([t]) for t in texts[:SPREAD_CHUNKS]])
    spread = np.sum(alone * vectors[:SPREAD_CHUNKS], axis=1)
    np.save(spec["vectors"], vectors)
    np.save(spec["query_vectors"], embedder.encode(list(QUERIES)))
    return {
        "variant": embedder.variant,
        "backend": embedder.backend,
        "chunks": len(texts),
        "chunks_per_second": round(len(texts) / seconds, 1),
        "load_seconds": round(load_seconds, 2),
        "batch_cosine_min": round(float(spread.min()), 6),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "torch_imported": "torch" in sys.modules,
    }


def run(variants: list[str], chunks: int, corpus_dir: Path, out: Path | None) -> list[dict]:
    """Measure each variant in its own process and compare it with fp32 (the first row)."""
    from tasks.embedding.cache import ensure_export
    from tasks.embedding.variants import all_variants

    settings = Settings.from_env()
    known = all_variants()
    names = ["fp32", *[v for v in variants if v != "fp32"]]
    with tempfile.TemporaryDirectory(prefix="ragmill-backends-") as scratch:
        texts_file = Path(scratch) / "texts.json"
        texts_file.write_text(json.dumps(sample_chunks(corpus_dir, chunks)))
        rows = []
        for name in names:
            variant = known[name]
            started = time.perf_counter()
            ensure_export(settings.model, variant.backend, name)  # made once, then cached
            export_seconds = time.perf_counter() - started
            spec = {
                "model": settings.model, "backend": variant.backend, "variant": name,
                "texts": str(texts_file), "vectors": f"{scratch}/{name}.npy",
                "query_vectors": f"{scratch}/{name}-queries.npy",
            }
            row = _child(spec, scratch)
            row["export_seconds"] = round(export_seconds, 1)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
        reference = np.load(f"{scratch}/fp32.npy"), np.load(f"{scratch}/fp32-queries.npy")
        for row in rows:
            quality = compare(
                row["variant"], np.load(f"{scratch}/{row['variant']}.npy"),
                np.load(f"{scratch}/{row['variant']}-queries.npy"), *reference,
            )
            row.update(
                vs_fp32=round(row["chunks_per_second"] / rows[0]["chunks_per_second"], 2),
                cosine_to_fp32_mean=round(quality.cosine_mean, 5),
                cosine_to_fp32_min=round(quality.cosine_min, 5),
                top5_overlap_with_fp32=round(quality.recall_at_k, 3),
            )
    if out:
        out.write_text(json.dumps(rows, indent=2))
    return rows


def _child(spec: dict[str, Any], scratch: str) -> dict[str, Any]:
    spec_file = Path(scratch) / f"{spec['variant']}.json"
    spec_file.write_text(json.dumps(spec))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.backends", "--measure", str(spec_file)],
        capture_output=True, text=True, check=False, env=os.environ.copy(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"variant {spec['variant']}: {done.stderr.strip()[-600:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


COLUMNS = (
    "variant", "chunks_per_second", "vs_fp32", "cosine_to_fp32_mean", "cosine_to_fp32_min",
    "top5_overlap_with_fp32", "batch_cosine_min", "peak_rss_mb", "load_seconds", "torch_imported",
)


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, in the order measured."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(row[c]) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backends", description=__doc__)
    parser.add_argument("--variants", default="", help="comma-separated; default: all")
    parser.add_argument("--chunks", type=int, default=400)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(json.loads(args.measure.read_text()))))
        return
    from tasks.embedding.variants import all_variants

    names = [v for v in args.variants.split(",") if v] or list(all_variants())
    print(markdown(run(names, args.chunks, args.corpus, args.json)))


if __name__ == "__main__":
    main()
