"""The bench's one table, as rows, Markdown, a rich table and JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

COLUMNS = (
    ("run", "run"),
    ("backend", "backend"),
    ("procs x threads", "layout"),
    ("chunks", "chunks"),
    ("seconds", "seconds"),
    ("chunks/s", "chunks_per_second"),
    ("vs limit", "vs_limit"),
    ("vs baseline", "vs_baseline"),
    ("RSS/worker MiB", "rss_mb"),
    ("Redis peak MiB", "redis_peak_mb"),
    ("note", "note"),
)


@dataclass
class Row:
    """One measured configuration."""

    run: str
    backend: str
    processes: int
    threads: int
    chunks: int
    seconds: float
    chunks_per_second: float
    rss_mb: float | None = None
    redis_peak_mb: float | None = None
    vs_limit: float | None = None
    vs_baseline: float | None = None
    note: str = ""

    @property
    def layout(self) -> str:
        return f"{self.processes} x {self.threads}"


@dataclass
class BenchReport:
    """Everything one bench run measured."""

    machine: dict[str, Any]
    options: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    quality: list[dict[str, Any]] = field(default_factory=list)
    # Recall@k per backend on the bundled questions (pipeline/bench/retrieval.py).
    retrieval: dict[str, Any] = field(default_factory=dict)
    batch_sizes: list[dict[str, Any]] = field(default_factory=list)
    model_cache: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    # Milliseconds of CPU a chunk by process role, per end-to-end run (pipeline/bench/cpu_account).
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "options": self.options,
            "rows": [{**asdict(r), "layout": r.layout} for r in self.rows],
            "quality": self.quality,
            "retrieval": self.retrieval,
            "batch_sizes": self.batch_sizes,
            "model_cache": self.model_cache,
            "summary": self.summary,
            "cpu": self.cpu,
        }


def cell(row: Row, key: str) -> str:
    value = getattr(row, key)
    if value is None:
        return "-"
    if key == "chunks_per_second":
        return f"{value:.1f}"
    if key in ("vs_limit", "vs_baseline"):
        return f"{value:.2f}"
    if key in ("seconds", "rss_mb", "redis_peak_mb"):
        return f"{value:.1f}"
    return str(value)


def markdown(report: BenchReport) -> str:
    """The table and its side measurements as Markdown."""
    m = report.machine
    lines = [
        "# ragmill bench",
        "",
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores; load average at start "
        f"{m.get('load_start')}, at end {m.get('load_end')}. Command: `{m.get('command')}`",
        "",
        "| " + " | ".join(h for h, _ in COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(cell(r, k) for _, k in COLUMNS) + " |" for r in report.rows]
    if report.summary:
        lines += ["", "Summary:", ""]
        lines += [f"- {k}: {v}" for k, v in report.summary.items()]
    if report.cpu:
        lines += ["", *cpu_markdown(report.cpu)]
    if report.quality:
        keys = list(report.quality[0])
        lines += ["", "Retrieval quality against torch (same chunks, fixed queries):", ""]
        lines += ["| " + " | ".join(keys) + " |", "|" + "|".join("---" for _ in keys) + "|"]
        lines += ["| " + " | ".join(str(q[k]) for k in keys) + " |" for q in report.quality]
    if report.retrieval:
        from pipeline.bench.retrieval import retrieval_markdown

        lines += ["", *retrieval_markdown(report.retrieval)]
    if report.batch_sizes:
        lines += ["", "Encode batch size (one process, one thread):", ""]
        lines += ["| backend | batch size | batch order | chunks/s |", "|---|---|---|---|"]
        lines += [
            f"| {b['backend']} | {b['batch_size']} | {b['order']} | {b['chunks_per_second']:.1f} |"
            for b in report.batch_sizes
        ]
    if report.model_cache:
        lines += ["", "Model cache:", ""]
        lines += [f"- {k}: {v}" for k, v in report.model_cache.items()]
    return "\n".join(lines) + "\n"


def cpu_markdown(cpu: dict[str, dict[str, float]]) -> list[str]:
    """Where each end-to-end run's CPU went, in milliseconds a chunk."""
    keys = list(next(iter(cpu.values())))
    return [
        "CPU a chunk by process, ms (per-process CPU time from /proc over each end-to-end run; "
        "busy plus idle is the cores times the run's seconds, a chunk):",
        "",
        "| run | " + " | ".join(keys) + " |",
        "|---|" + "|".join("---" for _ in keys) + "|",
        *(
            f"| {run} | " + " | ".join(f"{ms.get(k, 0.0):.2f}" for k in keys) + " |"
            for run, ms in cpu.items()
        ),
    ]


def rich_table(report: BenchReport) -> Table:
    table = Table(title="ragmill bench", title_justify="left")
    for header, _ in COLUMNS:
        table.add_column(
            header, justify="left" if header in ("run", "backend", "note") else "right"
        )
    for row in report.rows:
        table.add_row(*(cell(row, k) for _, k in COLUMNS))
    return table


def write(report: BenchReport, out_dir: Path, console: Console) -> tuple[Path, Path]:
    """Print the table and write bench.json and bench.md into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "bench.json", out_dir / "bench.md"
    json_path.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    md_path.write_text(markdown(report))
    console.print(rich_table(report))
    for line in markdown(report).split("Summary:", 1)[-1].splitlines() if report.summary else []:
        if line.strip():
            console.print(line, markup=False, highlight=False)
    return json_path, md_path
