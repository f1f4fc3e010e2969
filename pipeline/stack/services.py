"""How each ragmill service is started, in one place: its command line and its readiness check.

The local stack, the benchmarks, the tests and the container scripts (`docker/start-*`, through
`python -m pipeline.stack.services ROLE`) all start redis-server, the Chroma server, Celery
workers and Flower from here, so a flag changes in one place for all of them.

Worker roles and their pools (docs/architecture.md):

    io     queue io     threads  downloads and chunking: waiting on the network
    embed  queue embed  prefork  encoding: CPU work, one process per core, one compute thread each
    llm    queue llm    threads  LLM calls: waiting on a remote API under the shared Redis limit
    embed-remote  queue embed-remote  threads  embedding through an OpenAI-compatible endpoint
           (EMBED_BACKEND=openai): waiting on HTTP under the shared Redis limit
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import redis
import requests

from pipeline.stack.processes import Service, StackError, free_port, spawn, wait_until
from tasks import queues
from tasks.settings import Settings

STARTUP_TIMEOUT = 90.0


@dataclass(frozen=True)
class WorkerRole:
    """A kind of Celery worker: the queue it consumes and the pool that suits its work."""

    queue: str
    pool: str

    def concurrency(self, settings: Settings) -> int:
        """Processes (prefork) or threads (threads pool) this role runs by default."""
        if self.queue == queues.EMBED:
            return settings.embed_processes
        if self.queue == queues.EMBED_REMOTE:
            return settings.remote_embed.threads
        return settings.io_threads if self.queue == queues.IO else settings.llm.threads


# A role is named by the queue it consumes.
ROLES = {
    queues.IO: WorkerRole(queue=queues.IO, pool="threads"),
    queues.EMBED: WorkerRole(queue=queues.EMBED, pool="prefork"),
    queues.LLM: WorkerRole(queue=queues.LLM, pool="threads"),
    queues.EMBED_REMOTE: WorkerRole(queue=queues.EMBED_REMOTE, pool="threads"),
}


def find_executable(name: str) -> str:
    """`name` from this Python's bin directory (a venv) or PATH; a StackError says how to get it."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        # Both ship with what ragmill installs: redis-server from apt, `chroma` in chromadb.
        hint = (
            "sudo apt-get install redis-server"
            if name == "redis-server"
            else "run scripts/setup.sh, or use the virtualenv ragmill is installed in"
        )
        raise StackError(f"{name} was not found on PATH; {hint}")
    return found


def redis_argv(port: int, workdir: Path, *, persist: bool = True, password: str = "") -> list[str]:
    """redis-server on 127.0.0.1:`port`, keeping its files in `workdir`.

    With `persist`, queued work survives a stop (append-only file), so an interrupted ingest
    resumes on the next start.
    """
    argv = [
        find_executable("redis-server"), "--bind", "127.0.0.1", "--port", str(port),
        "--dir", str(workdir), "--save", "", "--protected-mode", "yes",
        "--appendonly", "yes" if persist else "no",
    ]
    return [*argv, "--requirepass", password] if password else argv


def chroma_argv(path: Path | str, host: str, port: int) -> list[str]:
    """The Chroma server: the only process that ever opens the Chroma directory `path`."""
    return [find_executable("chroma"), "run", "--path", str(path), "--host", host,
            "--port", str(port)]


def worker_argv(role: str, *, concurrency: int, name: str, loglevel: str = "INFO") -> list[str]:
    """`celery -A tasks worker` for `role` (a key of ROLES), node name `name` (e.g. embed@%h)."""
    kind = ROLES[role]
    return [
        sys.executable, "-m", "celery", "-A", "tasks", "worker", "-Q", kind.queue,
        "--pool", kind.pool, "-c", str(concurrency), "-n", name, "--loglevel", loglevel,
    ]


def worker_command(role: str, settings: Settings) -> str:
    """The line a person runs to start a worker of `role` on a machine of theirs, as the README
    writes it: a threads pool gets `settings`' concurrency, prefork one process per core."""
    kind = ROLES[role]
    threads = f" -c {kind.concurrency(settings)}" if kind.pool == "threads" else ""
    return f"celery -A tasks worker -Q {kind.queue} --pool {kind.pool}{threads} -n {role}@%h"


def flower_argv(address: str, port: int) -> list[str]:
    """Flower; it reads FLOWER_BASIC_AUTH from its environment, never from its command line."""
    return [sys.executable, "-m", "celery", "-A", "tasks", "flower", f"--address={address}",
            f"--port={port}"]


def start_redis(
    workdir: Path, log_dir: Path, *, port: int | None = None, persist: bool = True,
    password: str = "", env: Mapping[str, str] | None = None,
) -> tuple[Service, str]:
    """A running redis-server and its URL, once it answers PING."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    service = spawn("redis", redis_argv(port, workdir, persist=persist, password=password),
                    env=dict(os.environ if env is None else env), log_path=log_dir / "redis.log")
    url = f"redis://{f':{password}@' if password else ''}127.0.0.1:{port}/0"
    wait_for_redis(url, service)
    return service, url


def wait_for_redis(url: str, service: Service) -> None:
    """Wait until the redis-server `service` answers PING at `url`."""
    wait_until(lambda: bool(redis.Redis.from_url(url, socket_timeout=1).ping()),
               service=service, timeout=STARTUP_TIMEOUT, what="answering PING")


def start_chroma(
    path: Path, log_dir: Path, env: Mapping[str, str], *, port: int | None = None
) -> tuple[Service, str]:
    """A running Chroma server on 127.0.0.1 and its URL, once it answers its heartbeat."""
    port = port or free_port()
    service = spawn("chroma", chroma_argv(path, "127.0.0.1", port), env=env,
                    log_path=log_dir / "chroma.log")
    url = f"http://127.0.0.1:{port}"
    wait_for_chroma(url, service)
    return service, url


def wait_for_chroma(url: str, service: Service) -> None:
    """Wait until the Chroma server `service` answers its heartbeat at `url`."""
    wait_until(lambda: requests.get(f"{url}/api/v2/heartbeat", timeout=1).ok,
               service=service, timeout=STARTUP_TIMEOUT, what="answering its heartbeat")


def start_worker(
    role: str, env: Mapping[str, str], log_dir: Path, *, name: str, concurrency: int,
    service_name: str | None = None, death_signal: int | None = None, wait: bool = True,
    include: tuple[str, ...] = (),
) -> Service:
    """A real worker process of `role` named `name` (no @host), by default once it answers
    celery ping; with `wait=False` call `wait_for_workers` after starting several at once.
    `include` names extra task modules the worker imports (Celery's -I): benchmarks' own."""
    argv = worker_argv(role, concurrency=concurrency, name=f"{name}@%h")
    if include:
        argv += ["-I", ",".join(include)]
    label = service_name or name
    extra = {} if death_signal is None else {"death_signal": death_signal}
    service = spawn(label, argv, env=env, log_path=log_dir / f"{label}.log", cwd=Path.cwd(),
                    **extra)
    if wait:
        wait_for_workers(env["REDIS_URL"], {name: service})
    return service


def wait_for_workers(redis_url: str, workers: Mapping[str, Service]) -> None:
    """Wait until each worker (node name without @host -> its process) answers celery ping."""
    from pipeline.stack.broker import control, nodes_answering

    with control(redis_url) as app:
        for name, service in workers.items():
            wait_until(lambda name=name: any(  # type: ignore[misc]
                n.startswith(name + "@") for n in nodes_answering(app)),
                service=service, timeout=STARTUP_TIMEOUT, what="answering celery ping")


def start_flower(
    env: Mapping[str, str], log_dir: Path, *, address: str, port: int
) -> tuple[Service, str]:
    """Flower and its URL, once its UI answers (/healthcheck needs no password)."""
    service = spawn("flower", flower_argv(address, port), env=env,
                    log_path=log_dir / "flower.log")
    host = "127.0.0.1" if address in ("", "0.0.0.0", "::") else address
    url = f"http://{host}:{port}"
    wait_until(lambda: requests.get(f"{url}/healthcheck", timeout=1).ok,
               service=service, timeout=STARTUP_TIMEOUT, what="serving its UI")
    return service, url


def main(argv: list[str] | None = None) -> None:
    """`python -m pipeline.stack.services ROLE ...`: become the service's command.

    The container scripts use it, so a container runs exactly what the local stack runs.
    """
    parser = argparse.ArgumentParser(prog="python -m pipeline.stack.services")
    sub = parser.add_subparsers(dest="service", required=True)
    worker = sub.add_parser("worker", help="a Celery worker of one role")
    worker.add_argument("role", choices=sorted(ROLES))
    worker.add_argument("--name", help="node name (default ROLE@%%h)")
    worker.add_argument("--concurrency", type=int, help="default: the role's setting")
    worker.add_argument("--loglevel", default="INFO")
    chroma = sub.add_parser("chroma", help="the Chroma server")
    chroma.add_argument("--path", required=True)
    chroma.add_argument("--host", default="127.0.0.1")
    chroma.add_argument("--port", type=int, default=8000)
    flower = sub.add_parser("flower", help="Flower")
    flower.add_argument("--address", default="127.0.0.1")
    flower.add_argument("--port", type=int, default=5555)
    args = parser.parse_args(argv)
    if args.service == "worker":
        settings = Settings.from_env()
        command = worker_argv(
            args.role,
            concurrency=args.concurrency or ROLES[args.role].concurrency(settings),
            name=args.name or f"{args.role}@%h",
            loglevel=args.loglevel,
        )
    elif args.service == "chroma":
        command = chroma_argv(args.path, args.host, args.port)
    else:
        command = flower_argv(args.address, args.port)
    sys.stdout.flush()
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
