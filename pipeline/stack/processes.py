"""Child processes of the local stack: start them tied to this process, stop them in order."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import RagmillError

_PR_SET_PDEATHSIG = 1


class StackError(RagmillError):
    """A service of the local stack failed to start or answer."""


def _die_with_parent(death_signal: int) -> Callable[[], None]:
    # If ragmill itself is killed (even with SIGKILL) the kernel sends `death_signal` to its
    # children, so no redis-server, Chroma or worker outlives the command that started it.
    def arrange() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, death_signal)

    return arrange


@dataclass
class Service:
    """One started process, its log file, and how to tell it to stop."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    stop_signal: int = signal.SIGTERM

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float) -> None:
        """Ask the process to stop; kill it if it has not within `grace` seconds."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            # Kill the whole session: a Celery parent's pool children go with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    log_path: Path,
    cwd: Path | None = None,
    death_signal: int = signal.SIGTERM,
) -> Service:
    """Start `argv` in its own session with output to `log_path`.

    `death_signal` reaches the process if this one dies without stopping it.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C in the terminal reaches ragmill only, which then stops the
            # services in order instead of all of them dying at once.
            start_new_session=True,
            preexec_fn=_die_with_parent(death_signal),
        )
    return Service(name=name, process=process, log_path=log_path)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(ready: Callable[[], bool], *, service: Service, timeout: float, what: str) -> None:
    """Poll `ready` until it holds; fail early with the log tail if `service` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.alive():
            raise StackError(
                f"{service.name} exited with code {service.process.returncode} before {what}; "
                f"its log ({service.log_path}) ends with:\n{service.log_tail()}"
            )
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.1)
    raise StackError(
        f"{service.name} did not become ready ({what}) within {timeout:.0f}s; "
        f"see {service.log_path}"
    )
