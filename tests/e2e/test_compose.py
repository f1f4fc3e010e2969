"""docker-compose.yml: valid for Debian's docker-compose, and every service command really works.

No Docker engine runs here, so the file is rendered with `docker-compose config` and each
service's entrypoint + command is run as it is written, outside Docker: the repository stands in
for /app, the test's own redis-server and Chroma server stand in for the `redis` and `chroma`
services, and every address is on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import yaml

from pipeline.stack import broker
from pipeline.stack.processes import Service, free_port, spawn, wait_until
from pipeline.stack.services import wait_for_chroma, wait_for_redis
from tasks.store import ChunkStore
from tests.support.mirror import Mirror, serve_mirror
from tests.support.shared import publish_real_or_synthetic

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("docker-compose") is None,
        reason="docker-compose is not installed (apt-get install docker-compose); "
        "it renders docker-compose.yml for these tests",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVICES = {"redis", "chroma", "worker-io", "worker-embed", "worker-llm", "worker-embed-remote",
            "flower", "ingest"}
WORKERS = ("worker-io", "worker-embed", "worker-llm")


def render(env_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "docker-compose",
            "--project-directory",
            str(ROOT),
            "-f",
            str(ROOT / "docker-compose.yml"),
            "--env-file",
            str(env_file),
            "config",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def dotenv(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.lstrip().startswith("#")}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    done = render(ROOT / ".env.example")
    assert done.returncode == 0, done.stderr
    return dict(yaml.safe_load(done.stdout))


@pytest.fixture(scope="module")
def secrets() -> dict[str, str]:
    return dotenv(ROOT / ".env.example")


def test_config_has_every_service_each_with_a_healthcheck(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_redis_keeps_an_append_only_file_behind_a_password_every_service_uses(
    config: dict[str, Any], secrets: dict[str, str]
) -> None:
    services = config["services"]
    command = services["redis"]["command"]
    assert command[:3] == ["redis-server", "--appendonly", "yes"]
    assert command[command.index("--requirepass") + 1] == secrets["REDIS_PASSWORD"]
    for name in SERVICES - {"redis", "chroma"}:
        url = services[name]["environment"]["REDIS_URL"]
        assert url == f"redis://:{secrets['REDIS_PASSWORD']}@redis:6379/0", name
        assert services[name]["environment"]["CHROMA_URL"] == "http://chroma:8000", name


def test_workers_wait_for_redis_and_embed_workers_can_be_scaled(config: dict[str, Any]) -> None:
    services = config["services"]
    for name in (*WORKERS, "flower", "ingest"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy", name
        assert services[name]["entrypoint"][0] == "/app/docker/entrypoint", name
    embed = services["worker-embed"]
    # --scale needs containers without a fixed name or host port.
    assert "container_name" not in embed and "ports" not in embed
    assert services["ingest"]["profiles"] == ["ingest"]
    # Rendered as "127.0.0.1:5555:5555/tcp": host port 5555 to Flower's 5555.
    assert any(
        str(port).split("/")[0].endswith("5555:5555") for port in services["flower"]["ports"]
    )


def test_missing_secrets_stop_the_config_with_their_names(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    done = render(empty)
    assert done.returncode != 0
    assert "REDIS_PASSWORD" in done.stderr or "FLOWER_BASIC_AUTH" in done.stderr


def test_image_installs_cpu_torch_first_and_bakes_in_no_secret(secrets: dict[str, str]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert "torch==2.13.0" in installs[0]
    assert re.search(r"TORCH_INDEX_URL=\S+/whl/cpu\b", dockerfile)
    assert '--index-url "${TORCH_INDEX_URL}"' in installs[0]
    assert any("pip install ." in line for line in installs[1:])
    assert not any(value and value in dockerfile for value in secrets.values())
    secret_words = re.compile(r"PASSWORD|SECRET|BASIC_AUTH|API_KEY|_TOKEN\b|\bTOKEN=")
    for line in dockerfile.splitlines():
        if line.split(" ", 1)[0] in ("ENV", "ARG") or line.startswith("    "):
            assert not secret_words.search(line), line
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".git" in ignored and ".venv" in ignored


# ---- every service's command, run as written, outside Docker -------------------------------


@dataclass
class Outside:
    """The compose services, started from their own command lines on 127.0.0.1."""

    config: dict[str, Any]
    root: Path
    addresses: dict[str, str]
    mirror: Mirror
    books: list[str]
    services: dict[str, Service] = field(default_factory=dict)

    def argv(self, name: str) -> list[str]:
        """The service's entrypoint + command, as the container would run them."""
        service = self.config["services"][name]
        words = [*(service.get("entrypoint") or []), *service.get("command", [])]
        return [local_path(w) for w in words]

    def env(self, name: str) -> dict[str, str]:
        """The service's compose environment, its addresses pointed at the local stand-ins."""
        env = {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": os.environ.get("HOME", str(self.root)),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONUNBUFFERED": "1",
            # The image's ENV RAGMILL_DATA_DIR=/data, here a folder of the test's own.
            "RAGMILL_DATA_DIR": str(self.root / name / "data"),
        }
        for key, value in (self.config["services"][name].get("environment") or {}).items():
            value = str(value)
            for address, local in self.addresses.items():
                value = value.replace(address, local)
            env[key] = value
        overrides = {
            "CHROMA_PATH": str(self.root / "chroma"),
            "CHROMA_LISTEN": "127.0.0.1",
            "CHROMA_PORT": self.addresses["chroma:8000"].rsplit(":", 1)[1],
            "FLOWER_LISTEN": "127.0.0.1",
            "FLOWER_PORT": self.addresses["flower:5555"].rsplit(":", 1)[1],
            "GUTENBERG_MIRROR": self.mirror.url,
        }
        env.update({k: v for k, v in overrides.items() if k in env})
        return env

    def start(self, name: str, argv: list[str] | None = None) -> Service:
        service = spawn(
            name,
            argv or self.argv(name),
            env=self.env(name),
            log_path=self.root / "logs" / f"{name}.log",
            cwd=self.root,
        )
        self.services[name] = service
        return service

    def healthcheck(self, name: str, **env: str) -> subprocess.CompletedProcess[str]:
        test = self.config["services"][name]["healthcheck"]["test"]
        assert test[0] == "CMD", f"{name}: healthcheck {test} is not an exec form"
        return subprocess.run(
            [local_path(w) for w in test[1:]],
            env={**self.env(name), **env},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.root,
        )

    def http(self, name: str) -> str:
        return f"http://{self.addresses[name]}"


def local_path(word: str) -> str:
    """/app/... in the image is the repository here."""
    return str(ROOT / word.removeprefix("/app/")) if word.startswith("/app/") else word


@pytest.fixture(scope="module")
def outside(config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outside]:
    root = tmp_path_factory.mktemp("compose")
    addresses = {
        f"{name}:{port}": f"127.0.0.1:{free_port()}"
        for name, port in (("redis", 6379), ("chroma", 8000), ("flower", 5555))
    }
    with serve_mirror(root / "mirror") as mirror:
        # The ingest service's books: the real ones where shared/ has them.
        wanted = [str(b) for b in config["services"]["ingest"]["command"]]
        books = publish_real_or_synthetic(mirror, wanted)
        stack = Outside(config, root, addresses, mirror, books)
        try:
            redis_port = addresses["redis:6379"].rsplit(":", 1)[1]
            (root / "redis").mkdir()
            stack.start(
                "redis",
                [
                    *stack.argv("redis"),
                    # Only where it listens and keeps its files differ from the container.
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    redis_port,
                    "--dir",
                    str(root / "redis"),
                ],
            )
            chroma = stack.start("chroma")
            wait_for_redis(broker_url(stack), stack.services["redis"])
            wait_for_chroma(stack.http("chroma:8000"), chroma)
            yield stack
        finally:
            # Clients and Flower first, then workers, then the servers, as compose down would.
            for service in reversed(list(stack.services.values())):
                service.stop(grace=20)


def broker_url(stack: Outside) -> str:
    return stack.env("worker-io")["REDIS_URL"]


def nodes_answering(redis_url: str) -> set[str]:
    with broker.control(redis_url) as client:
        return broker.nodes_answering(client, timeout=1.0)


@pytest.fixture(scope="module")
def workers(outside: Outside) -> str:
    """Start the three worker services; return this host's name, as in their node names."""
    for name in WORKERS:
        outside.start(name)
    host = os.uname().nodename
    expected = {f"{n.removeprefix('worker-')}@{host}" for n in WORKERS}
    seen: set[str] = set()

    def all_answer() -> bool:
        seen.update(nodes_answering(broker_url(outside)))
        return expected <= seen

    wait_until(
        all_answer,
        service=outside.services["worker-embed"],
        timeout=90,
        what="celery ping from io, embed and llm",
    )
    return host


@pytest.fixture(scope="module")
def flower_url(outside: Outside, workers: str) -> str:
    flower = outside.start("flower")
    url = outside.http("flower:5555")
    wait_until(
        lambda: requests.get(f"{url}/healthcheck", timeout=1).ok,
        service=flower,
        timeout=90,
        what="/healthcheck",
    )
    return url


def test_redis_command_requires_its_password(outside: Outside, secrets: dict[str, str]) -> None:
    url = f"redis://{outside.addresses['redis:6379']}/0"
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(url).ping()
    assert secrets["REDIS_PASSWORD"] in broker_url(outside)
    info = redis.Redis.from_url(broker_url(outside)).info("persistence")
    assert info["aof_enabled"] == 1


def test_chroma_command_serves_and_passes_its_healthcheck(outside: Outside) -> None:
    check = outside.healthcheck("chroma")
    assert check.returncode == 0, check.stderr


def test_worker_commands_serve_their_queues_and_pass_their_healthchecks(
    outside: Outside, workers: str
) -> None:
    host = workers
    with broker.control(broker_url(outside)) as client:
        active = client.control.inspect(timeout=2.0).active_queues() or {}
        stats = client.control.inspect(timeout=2.0).stats() or {}
    queues = {worker: {q["name"] for q in qs} for worker, qs in active.items()}
    assert queues[f"io@{host}"] == {"io"}
    assert queues[f"embed@{host}"] == {"embed"}
    assert queues[f"llm@{host}"] == {"llm"}
    assert stats[f"embed@{host}"]["pool"]["max-concurrency"] == os.cpu_count()
    assert stats[f"io@{host}"]["pool"]["implementation"].endswith("thread:TaskPool")
    assert stats[f"llm@{host}"]["pool"]["implementation"].endswith("thread:TaskPool")
    for name in WORKERS:
        check = outside.healthcheck(name)
        assert check.returncode == 0, f"{name}: {check.stdout} {check.stderr}"
    # The check asks its own node: a node that is not running fails it.
    absent = outside.healthcheck("worker-embed", WORKER_NAME="absent@%h")
    assert absent.returncode != 0


def test_flower_command_serves_healthcheck_and_asks_for_login(
    outside: Outside, flower_url: str, secrets: dict[str, str]
) -> None:
    url = flower_url
    assert outside.healthcheck("flower").returncode == 0
    assert requests.get(f"{url}/workers", timeout=10).status_code == 401
    user, password = secrets["FLOWER_BASIC_AUTH"].split(":", 1)
    wrong = requests.get(f"{url}/workers", auth=(user, "wrong"), timeout=10)
    assert wrong.status_code == 401
    assert requests.get(f"{url}/workers", auth=(user, password), timeout=10).status_code == 200
    metrics = requests.get(f"{url}/metrics", timeout=10)
    assert metrics.status_code == 200 and "flower_" in metrics.text


def test_ingest_command_submits_to_the_workers_and_exits_zero(
    outside: Outside, workers: str
) -> None:
    argv = outside.argv("ingest")
    default_books = [str(b) for b in outside.config["services"]["ingest"]["command"]]
    if outside.books != default_books:
        # shared/ is absent: the same command line with the mirror's synthetic books.
        argv = [*argv[: len(argv) - len(default_books)], *outside.books]
    env = outside.env("ingest")
    assert outside.healthcheck("ingest").returncode == 0
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=240, cwd=outside.root
    )
    assert done.returncode == 0, done.stderr[-2000:]
    store = ChunkStore.connect(outside.http("chroma:8000"), env["RAGMILL_COLLECTION"])
    assert store.count() > 0
    stored_books = {m["book_id"] for m in store.collection.get(include=["metadatas"])["metadatas"]}
    assert stored_books == set(outside.books)
    # The books came through the io worker's downloads from the mirror named in the environment.
    assert sum(outside.mirror.requests.values()) >= len(outside.books)
