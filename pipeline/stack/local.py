"""The local stack: redis-server, a Chroma server, the io and embed workers, and Flower.

With REDIS_URL unset, `ragmill ingest` starts one under the data directory and stops it when done;
`ragmill up` starts one and keeps it until Ctrl-C. The same code that talks to a cluster of many
machines then talks to this one (the LocalCluster pattern of Dask and Ray).

Who owns the data directory is decided by an exclusive lock on `<data>/stack.lock`, held for the
whole life of a stack. `<data>/stack.json` tells other ragmill commands where its services listen,
so a query during an ingest goes to the running Chroma server instead of opening its directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

import redis

from pipeline.stack import services
from pipeline.stack.processes import Service, StackError
from tasks import queues
from tasks.setting_checks import SettingsError, check_basic_auth


@dataclass(frozen=True)
class StackInfo:
    """Where a running stack's services listen, as written to stack.json."""

    redis_url: str
    chroma_url: str
    flower_url: str | None
    mode: str  # "up" (kept running for others) or "private" (one command's own)
    owner_pid: int
    pids: dict[str, int] = field(default_factory=dict)
    serve_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class StackPlan:
    """Which services to start, and how big."""

    workers: bool = True
    flower_port: int | None = None
    flower_address: str = "127.0.0.1"
    embed_concurrency: int = field(default_factory=lambda: os.cpu_count() or 1)
    io_threads: int = 8
    # Threads of an LLM worker (queue llm); 0 starts none. Waiting on HTTP, so threads.
    llm_threads: int = 0
    # Threads of an embed-remote worker (EMBED_BACKEND=openai), started instead of the prefork
    # embed worker; 0 starts the embed worker.
    remote_embed_threads: int = 0
    # The search service (`ragmill serve`) on 127.0.0.1; None starts none.
    serve_port: int | None = None


class LocalStack:
    """Starts and stops the services of one data directory."""

    def __init__(self, data_dir: Path, plan: StackPlan | None = None, *, mode: str = "private"):
        self.data_dir = data_dir.absolute()
        self.plan = plan or StackPlan()
        self.mode = mode
        self.services: list[Service] = []
        self.info: StackInfo | None = None
        self._lock: IO[str] | None = None

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    def __enter__(self) -> StackInfo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, wait_for_lock: float = 600.0) -> StackInfo:
        """Start every planned service and wait until each answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = acquire_lock(self.data_dir, timeout=wait_for_lock)
        try:
            return self._start_services()
        except BaseException:
            self.stop()
            raise

    def _start_services(self) -> StackInfo:
        env = service_env(self.data_dir)
        if self.plan.flower_port is not None:
            flower_env(env, self.plan.flower_address)  # a bad auth setting fails before any start
        redis_server, redis_url = services.start_redis(self.data_dir / "redis", self.logs, env=env)
        self.services.append(redis_server)
        chroma, chroma_url = services.start_chroma(self.data_dir / "chroma", self.logs, env)
        self.services.append(chroma)
        env.update(REDIS_URL=redis_url, CHROMA_URL=chroma_url)
        flower_url = None
        if self.plan.workers:
            self._start_workers(env)
        if self.plan.flower_port is not None:
            flower, flower_url = services.start_flower(
                flower_env(env, self.plan.flower_address), self.logs,
                address=self.plan.flower_address, port=self.plan.flower_port,
            )
            self.services.append(flower)
        serve_url = None
        if self.plan.serve_port is not None:
            from pipeline.stack.service import start_serve

            serve, serve_url = start_serve(env, self.logs, host="127.0.0.1",
                                           port=self.plan.serve_port)
            self.services.append(serve)
        self.info = StackInfo(
            redis_url=redis_url,
            chroma_url=chroma_url,
            flower_url=flower_url,
            mode=self.mode,
            owner_pid=os.getpid(),
            pids={s.name: s.pid for s in self.services},
            serve_url=serve_url,
        )
        write_state(self.data_dir, self.info)
        return self.info

    def _start_workers(self, env: dict[str, str]) -> None:
        tag = f"{os.getpid()}"
        sizes = {queues.IO: self.plan.io_threads, queues.EMBED: self.plan.embed_concurrency}
        if self.plan.remote_embed_threads > 0:
            sizes = {
                queues.IO: self.plan.io_threads,
                queues.EMBED_REMOTE: self.plan.remote_embed_threads,
            }
        if self.plan.llm_threads > 0:
            sizes[queues.LLM] = self.plan.llm_threads
        started = {}
        for role, concurrency in sizes.items():
            name = f"{role}-{tag}"
            # Orphaned workers stop at once instead of finishing their tasks against a Redis and
            # a Chroma that are going away too; their unacknowledged messages are delivered
            # again on the next start.
            started[name] = services.start_worker(
                role, env, self.logs, name=name, concurrency=concurrency,
                service_name=f"worker-{role}", death_signal=signal.SIGKILL, wait=False,
            )
            self.services.append(started[name])
        services.wait_for_workers(env["REDIS_URL"], started)

    def stop(self) -> None:
        """Stop workers first (they finish or requeue their task), then Flower, Chroma, Redis."""
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / "stack.json").unlink()
        for service in reversed(self.services):
            service.stop(grace=20.0 if service.name.startswith("worker") else 10.0)
        self.services.clear()
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def service_env(data_dir: Path) -> dict[str, str]:
    """The environment every service starts with."""
    env = dict(os.environ)
    env.update(
        RAGMILL_DATA_DIR=str(data_dir),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
    )
    # Celery must import `tasks` from wherever ragmill is, even when run from another directory.
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def flower_env(env: dict[str, str], address: str) -> dict[str, str]:
    """Flower's environment: FLOWER_BASIC_AUTH checked, and required beyond loopback.

    Flower reads FLOWER_BASIC_AUTH (user:password[,user2:password2]) itself; it stays in the
    environment rather than on the command line, where `ps` would show the password.
    """
    env = dict(env)
    auth = env.pop("FLOWER_BASIC_AUTH", "").strip()
    if auth:
        try:
            env["FLOWER_BASIC_AUTH"] = check_basic_auth(auth)
        except SettingsError as exc:
            raise StackError(str(exc)) from None
    elif not is_loopback(address):
        raise StackError(
            f"Flower would listen on {address or 'every address'} without a password; "
            "set FLOWER_BASIC_AUTH=user:password or use --flower-address 127.0.0.1"
        )
    return env


def is_loopback(address: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def acquire_lock(data_dir: Path, timeout: float) -> IO[str]:
    """Hold `<data>/stack.lock` exclusively, waiting up to `timeout` seconds for its owner."""
    handle = open(data_dir / "stack.lock", "a+")  # noqa: SIM115 - held for the stack's life
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                raise StackError(
                    f"another ragmill command keeps {data_dir} busy; wait for it to finish"
                ) from None
            time.sleep(0.2)


def write_state(data_dir: Path, info: StackInfo) -> None:
    tmp = data_dir / "stack.json.tmp"
    tmp.write_text(json.dumps(asdict(info), indent=2))
    os.replace(tmp, data_dir / "stack.json")


def running_stack(data_dir: Path) -> StackInfo | None:
    """The stack that currently owns `data_dir`, if one is up and answering."""
    path = data_dir.absolute() / "stack.json"
    try:
        info = StackInfo(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    try:
        os.kill(info.owner_pid, 0)
        redis.Redis.from_url(info.redis_url, socket_timeout=1).ping()
    except (OSError, redis.RedisError):
        return None
    return info

