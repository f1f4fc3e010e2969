"""What one Redis and one Chroma server absorb: the shared parts of a cluster, measured.

    python -m benchmarks.ceiling [FOLDER] --chunks 20000 --processes 4 [--json out.json]

Starts real services in a temporary directory (redis-server, a Chroma server, an io worker and an
embed worker of N prefork processes) and ingests real Gutenberg books (cut short to about
--chunks chunks) through the submitting client ragmill ingest uses (Submission). The embed
processes' model is replaced by a stand-in (benchmarks/standin_embedder.py) that returns the
real vectors of those very chunks, computed once beforehand with the configured model: embedding
costs nothing, so the shared parts are the work. CPU time of every process is read from /proc
(pipeline/bench/cpu_account.py) and divided by the chunks stored.

From the CPU a chunk, the capacity model says how many chunks a second each shared part absorbs
(Redis runs commands on one core; Chroma's server is given C cores; the submitting client is one
process), and so how many embed machines of a given speed one cluster can feed, and which part
gives out first. CPU time a chunk holds on a busy machine; wall-clock rates do not.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import redis

from benchmarks.ceiling_parts import Stack, chunk_texts, cut_books, running_stack, vector_table
from benchmarks.search_service import disk_mb
from corpus.sources import Source
from pipeline.bench.cpu_account import CpuAccount
from pipeline.bench.e2e import Sampler
from pipeline.bench.probe import rss_mb
from pipeline.ingest.submission import Plan, Submission
from pipeline.stack.broker import client_app, connect
from tasks import resources
from tasks.store import ChunkStore

__all__ = ["Capacity", "Ceiling", "capacity", "main", "measure"]

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "gutenberg"
# This machine's bare-encode limit with two single-threaded onnx-int8 processes
# (docs/performance.md): the speed of one 2-core embed machine.
DEFAULT_MACHINE_RATE = 124.0
STANDIN_LINE = "stand-in embedder:"


@dataclass(frozen=True)
class Capacity:
    """How many chunks a second each shared part absorbs, and what that feeds."""

    machine_rate: float  # chunks/s one embed machine produces
    chroma_cores: int
    ceilings: dict[str, float]  # shared part -> chunks/s it absorbs at 100% of its cores

    @property
    def first_to_give_out(self) -> str:
        return min(self.ceilings, key=self.ceilings.__getitem__)

    @property
    def cluster_rate(self) -> float:
        return self.ceilings[self.first_to_give_out]

    @property
    def machines(self) -> int:
        """Embed machines of `machine_rate` the shared parts keep fed."""
        return int(self.cluster_rate // self.machine_rate)


def capacity(ms: dict[str, float], machine_rate: float, chroma_cores: int) -> Capacity:
    """The capacity model from CPU ms a chunk of each shared part."""
    ceilings = {
        # Chroma's server spreads requests over its threads: an upper bound at C cores busy.
        "chroma": chroma_cores * 1000.0 / ms["chroma"],
        # Redis executes every command on one thread, whatever the machine's cores.
        "redis": 1000.0 / ms["redis"],
        # One submitting process; most of its CPU is polling the ledger, which does not grow
        # with the chunk rate, so this bound is low (safe).
        "client": 1000.0 / ms["client"],
    }
    return Capacity(machine_rate, chroma_cores, {k: round(v, 1) for k, v in ceilings.items()})


@dataclass(frozen=True)
class Ceiling:
    """One measured run."""

    chunks_cut: int  # chunks the books hold, as cut before the run
    chunks_stored: int  # chunks Chroma holds after it
    seconds: float
    embed_processes: int
    standin_processes: int  # embed processes whose log says the stand-in served them
    failures: list[str]
    ms_a_chunk: dict[str, float]  # CPU ms a chunk: chroma, redis, client, workers, io, ...
    redis_commands_a_chunk: float
    chroma_cores_busy: float  # Chroma's CPU seconds over the run's wall seconds
    redis_peak_mb: float
    chroma_rss_mb: float  # the Chroma server's resident memory at the end
    chroma_disk_mb: float  # its directory's size at the end
    capacity: Capacity

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_stored / self.seconds if self.seconds else 0.0


def measure(
    folder: Path, *, chunks: int, books: int, processes: int, workdir: Path, cache: Path,
    machine_rate: float = DEFAULT_MACHINE_RATE, chroma_cores: int = 8,
) -> Ceiling:
    """Cut the books, make their vector table, run them through a fresh stack, and measure."""
    files = cut_books(folder, chunks, books, workdir / "books")
    texts, tokens = chunk_texts(files)
    table = vector_table(texts, tokens, cache)
    with running_stack(workdir / "stack", processes, table) as stack:
        run = ingest(stack, files)
        stored = ChunkStore.connect(stack.chroma_url, "ceiling").count()
        log = stack.log("worker-embed")
        chroma_mb = (rss_mb(stack.pids()["chroma"]), disk_mb(workdir / "stack" / "chroma"))
    cpu, seconds, commands, redis_peak, failures = run
    ms = per_chunk(cpu, stored)
    return Ceiling(
        chunks_cut=len(texts), chunks_stored=stored, seconds=round(seconds, 2),
        embed_processes=processes, standin_processes=log.count(STANDIN_LINE),
        failures=failures, ms_a_chunk=ms,
        redis_commands_a_chunk=round(commands / stored, 2) if stored else 0.0,
        chroma_cores_busy=round(cpu["chroma"] / seconds, 2) if seconds else 0.0,
        redis_peak_mb=round(redis_peak, 1),
        chroma_rss_mb=round(chroma_mb[0], 1), chroma_disk_mb=round(chroma_mb[1], 1),
        capacity=capacity(ms, machine_rate, chroma_cores),
    )


Run = tuple[dict[str, float], float, int, float, list[str]]


def ingest(stack: Stack, files: list[Path]) -> Run:
    """Submit `files` as ragmill ingest would and follow the run to its end, under the account.

    Returns CPU seconds by role, wall seconds, Redis commands, Redis's peak MB and failures.
    """
    settings = resources.settings().with_changes(
        collection="ceiling", redis_url=stack.redis_url, chroma_url=stack.chroma_url)
    client = connect(stack.redis_url)
    sources = [Source("file", str(path), path.name) for path in files]
    submission = Submission(client_app(stack.redis_url), client, settings, Plan(sources, []))
    pids = stack.pids()
    account = CpuAccount(pids)
    sampler = Sampler(client, pids["worker-embed"], account)
    commands = redis_commands(client)
    with sampler.running():
        report = submission.run()
    # The run's own commands: the sampler's INFO calls are a handful a second, counted too.
    commands = redis_commands(client) - commands
    cpu = account.finish().seconds
    failures = [f"{label}: {why}" for label, why in report.failures.items()]
    return cpu, report.seconds, commands, sampler.redis_peak / 2**20, failures


def redis_commands(client: redis.Redis) -> int:
    return int(client.info("stats")["total_commands_processed"])


def per_chunk(cpu: dict[str, float], chunks: int) -> dict[str, float]:
    """CPU ms a chunk by part; the embed pool and its parent together are the workers'."""
    if not chunks:
        return {}
    parts = {
        "chroma": cpu["chroma"],
        "redis": cpu["redis"],
        "client": cpu["client"],
        "workers": cpu["embed"] + cpu["embed main"],
        "io": cpu["io worker"] + cpu["extraction"],
        "other": cpu["other"],
    }
    return {part: round(1000 * seconds / chunks, 3) for part, seconds in parts.items()}


def report_lines(result: Ceiling) -> list[str]:
    """The run, the CPU a chunk and the capacity model, for a person."""
    model = result.capacity
    ms = result.ms_a_chunk
    lines = [
        f"{result.chunks_stored} of {result.chunks_cut} chunks stored in {result.seconds:.1f} s "
        f"with {result.embed_processes} stand-in embed processes "
        f"({result.standin_processes} served by the stand-in)",
        f"wall clock: {result.chunks_per_second:.1f} chunks/s with every part on this machine "
        "(a shared machine: wall-clock rates vary with its load; CPU a chunk does not)",
        "CPU ms a chunk:  " + "  ".join(f"{part} {value:.3f}" for part, value in ms.items()),
        f"Redis: {result.redis_commands_a_chunk} commands a chunk, peak {result.redis_peak_mb} MB;"
        f" Chroma's server busy {result.chroma_cores_busy} cores on average",
        f"Chroma at the end: {result.chroma_rss_mb} MB resident, {result.chroma_disk_mb} MB on "
        "disk",
        f"capacity at Chroma {model.chroma_cores} cores, embed machines of "
        f"{model.machine_rate:g} chunks/s:",
    ]
    lines += [f"  {part:7s} absorbs {rate:10.1f} chunks/s" for part, rate in model.ceilings.items()]
    # Whether one server's writes use C cores is not shown by a machine of 2 busy cores; the
    # single-node server applies writes through one compaction component, so one core is the
    # safe figure (docs/scaling.md).
    lines.append(f"  (chroma on 1 core, if its writes serialise: "
                 f"{1000 / ms['chroma']:.1f} chunks/s)")
    lines.append(
        f"  -> {model.first_to_give_out} gives out first, at {model.cluster_rate:.0f} chunks/s: "
        f"{model.machines} embed machines (each also spends {ms.get('workers', 0):.3f} ms "
        "of its own CPU a chunk outside the model)")
    if result.failures:
        lines.append("failures: " + "; ".join(result.failures[:5]))
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceiling")
    parser.add_argument("folder", type=Path, nargs="?", default=DEFAULT_FOLDER,
                        help="a folder of Gutenberg books pg*.txt")
    parser.add_argument("--chunks", type=int, default=20000, help="chunks to ingest, about")
    parser.add_argument("--books", type=int, default=16, help="books to cut them from")
    parser.add_argument("--processes", type=int, default=4, help="stand-in embed processes")
    parser.add_argument("--machine-rate", type=float, default=DEFAULT_MACHINE_RATE,
                        help="chunks/s of one embed machine, for the capacity model")
    parser.add_argument("--chroma-cores", type=int, default=8,
                        help="cores of the Chroma server, for the capacity model")
    parser.add_argument("--cache", type=Path, default=Path("data/bench-vectors"),
                        help="where the stand-in's vector tables are kept")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ragmill-ceiling-") as workdir:
        result = measure(args.folder, chunks=args.chunks, books=args.books,
                         processes=args.processes, workdir=Path(workdir), cache=args.cache,
                         machine_rate=args.machine_rate, chroma_cores=args.chroma_cores)
    print("\n".join(report_lines(result)))
    if args.json:
        args.json.write_text(json.dumps(
            {**asdict(result), "chunks_per_second": round(result.chunks_per_second, 1)},
            indent=2))


if __name__ == "__main__":
    main()
