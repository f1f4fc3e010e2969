"""`ragmill serve` as a process of the local stack: its command line and its readiness check."""

from __future__ import annotations

import socket
import sys
from collections.abc import Mapping
from pathlib import Path

import requests

from pipeline.stack.processes import Service, StackError, spawn, wait_until
from pipeline.stack.services import STARTUP_TIMEOUT

DEFAULT_PORT = 8900


def serve_argv(host: str, port: int) -> list[str]:
    """The search service; it reads RAGMILL_SERVE_TOKEN from its environment, never argv."""
    return [sys.executable, "-m", "pipeline", "serve", "--host", host, "--port", str(port)]


def start_serve(
    env: Mapping[str, str], log_dir: Path, *, host: str, port: int
) -> tuple[Service, str]:
    """The search service and its URL, once /health answers (the model is loaded)."""
    if not port_free(host, port):
        raise StackError(
            f"port {port} on {host} is in use, so the search service cannot start there; "
            "use --serve-port with another port, or --no-serve"
        )
    service = spawn("serve", serve_argv(host, port), env=env, log_path=log_dir / "serve.log")
    url = f"http://{'127.0.0.1' if host in ('', '0.0.0.0', '::') else host}:{port}"
    wait_until(lambda: requests.get(f"{url}/health", timeout=1).ok,
               service=service, timeout=STARTUP_TIMEOUT, what="answering /health")
    return service, url


def port_free(host: str, port: int) -> bool:
    """Whether nothing listens on `host`:`port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
