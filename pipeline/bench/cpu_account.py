"""Where an end-to-end run's CPU went, by the stack's roles, read from /proc.

The ratio to the bare limit says how much of the machine reached the model; this says where the
rest went. The run's sampler reads, every half second, the CPU time of each stack process and of
its children (the embed pool, the io worker's extraction processes); a process that ends
mid-run keeps what it had used at its last reading, and one that starts mid-run counts from
zero. The machine's busy and idle time come from /proc/stat, so the CPU no stack process used
(the submitting process is named; the kernel and anything else running are "other") shows too.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROLES", "CpuAccount", "CpuUse", "child_pids", "machine_cpu", "process_cpu"]

# The service's own process, then its children.
_SERVICE_ROLES = {
    "worker-embed": ("embed main", "embed"),
    "worker-io": ("io worker", "extraction"),
    "chroma": ("chroma", "chroma"),
    "redis": ("redis", "redis"),
}
ROLES = ("embed", "embed main", "chroma", "io worker", "extraction", "redis", "client", "other")
_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user and system, all threads) `pid` has used, or None once it is gone."""
    try:
        return cpu_seconds(pid)
    except OSError:
        return None


def machine_cpu() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy and idle, summed over its cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / _TICKS, (idle + iowait) / _TICKS


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) a process has used so far; Linux /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds by role over one run, and the machine's idle seconds."""

    seconds: dict[str, float]
    idle: float

    def per_chunk_ms(self, chunks: int) -> dict[str, float]:
        """Milliseconds of CPU a chunk, by role, then "idle" and "total" (busy)."""
        if not chunks:
            return {}
        out = {role: round(1000 * s / chunks, 3) for role, s in self.seconds.items()}
        out["idle"] = round(1000 * self.idle / chunks, 3)
        out["total"] = round(1000 * sum(self.seconds.values()) / chunks, 3)
        return out


class CpuAccount:
    """Readings of a stack's processes from a run's start to its end."""

    def __init__(self, services: dict[str, int], client_pid: int | None = None) -> None:
        self.services = services
        self.client_pid = client_pid or os.getpid()
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self.machine_start = machine_cpu()
        self._read(starting=True)

    def sample(self) -> None:
        self._read(starting=False)

    def finish(self) -> CpuUse:
        """Read once more and sum each role's use since the start."""
        self._read(starting=False)
        busy_end, idle_end = machine_cpu()
        seconds = dict.fromkeys(ROLES, 0.0)
        for pid, (role, cpu) in self.last.items():
            seconds[role] += max(0.0, cpu - self.first.get(pid, 0.0))
        # "other" is what the machine was busy with beyond the processes named above.
        busy = busy_end - self.machine_start[0]
        seconds["other"] = max(0.0, busy - sum(seconds.values()))
        return CpuUse(seconds=seconds, idle=max(0.0, idle_end - self.machine_start[1]))

    def _read(self, *, starting: bool) -> None:
        for pid, role in self._processes():
            cpu = process_cpu(pid)
            if cpu is None:
                continue
            if pid not in self.last:
                # A process first seen after the start began during the run.
                self.first[pid] = cpu if starting else 0.0
            self.last[pid] = (role, cpu)

    def _processes(self) -> list[tuple[int, str]]:
        found = [(self.client_pid, "client")]
        for name, pid in self.services.items():
            if name not in _SERVICE_ROLES:
                continue  # Flower or the search service, when started: counted in "other"
            own, children = _SERVICE_ROLES[name]
            found.append((pid, own))
            found += [(child, children) for child in child_pids(pid)]
        return found


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid`, read from /proc."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError, ValueError):
            children += [int(p) for p in task.read_text().split()]
    return children
