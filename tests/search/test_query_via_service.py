"""`ragmill query` and `ragmill ask` send the question to `ragmill up`'s search service when it
serves their collection, with the output of their own search and no model loaded in the command;
otherwise they search on their own as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from pipeline.serve.client import reader_of
from pipeline.stack.local import StackInfo
from tasks.embedding.variants import all_variants, resolve
from tasks.settings import Settings
from tests.search.conftest import Service

# The CLI, in a process where loading a model ends the command with this message: a command
# that answers here answered without a model.
NO_MODEL = (
    "import sys, tasks.embedding.embedder as e\n"
    "def refuse(*args, **kwargs): sys.exit('a model was loaded in the command')\n"
    "e.Embedder.__init__ = refuse\n"
    "from pipeline.cli.main import main\n"
    "main()\n"
)


def stack_with_service(data_dir: Path, redis_url: str, library: Settings,
                       service: Service) -> Path:
    """stack.json as `ragmill up` writes it, naming the running service (owned by this test)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    info = StackInfo(redis_url=redis_url, chroma_url=str(library.chroma_url), flower_url=None,
                     mode="up", owner_pid=os.getpid(), serve_url=service.url)
    (data_dir / "stack.json").write_text(json.dumps(asdict(info)))
    return data_dir


def ragmill(args: list[str], data_dir: Path, library: Settings, *, no_model: bool,
            **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHROMA_URL": str(library.chroma_url), "HF_HUB_OFFLINE": "1",
           "RAGMILL_COLLECTION": library.collection, "COLUMNS": "100", **extra_env}
    for name in ("REDIS_URL", "LLM_BASE_URL", "LLM_MODEL", "RAGMILL_SERVE_TOKEN"):
        env.pop(name, None)
    code = NO_MODEL if no_model else "from pipeline.cli.main import main\nmain()\n"
    return subprocess.run([sys.executable, "-c", code, *args, "--data-dir", str(data_dir)],
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "args",
    [
        ["query", "who watched the sea from the deck?", "-k", "4"],
        ["query", "who watched the sea from the deck?", "-k", "4", "--json"],
        ["query", "a garden", "--book", "1002", "--mode", "hybrid", "--json"],
        ["query", "whale", "--mode", "keyword", "--language", "en"],
        ["ask", "What did the harpooner watch?", "-k", "3", "--json"],
    ],
)
def test_through_the_service_the_output_is_the_commands_own_without_a_model(
    args: list[str], library: Settings, service: Service, redis_url: str, tmp_path: Path
) -> None:
    up = stack_with_service(tmp_path / "up", redis_url, library, service)
    fast = ragmill(args, up, library, no_model=True)
    own = ragmill(args, tmp_path / "no-stack", library, no_model=False)
    assert fast.returncode == own.returncode == 0, fast.stderr + own.stderr
    assert fast.stdout == own.stdout and fast.stdout.strip()


def test_the_services_refusal_is_the_commands_one_line(library: Settings, service: Service,
                                                       redis_url: str, tmp_path: Path) -> None:
    up = stack_with_service(tmp_path / "up", redis_url, library, service)
    args = ["query", "whales", "--book", "999"]
    fast = ragmill(args, up, library, no_model=True)
    own = ragmill(args, tmp_path / "no-stack", library, no_model=False)
    assert fast.returncode == own.returncode == 2
    assert fast.stderr == own.stderr and fast.stderr.count("\n") == 1


def another_variant() -> str:
    """A variant of the configured backend other than the one configured."""
    settings = Settings.from_env()
    current = resolve(settings.embed_backend, settings.embed_variant or None).name
    return next(v.name for v in all_variants().values()
                if v.backend == settings.embed_backend and v.name != current)


@pytest.mark.parametrize(
    ("env", "says"),
    [({"RAGMILL_COLLECTION": "another-collection"},
      "collection another-collection does not exist"),
     ({"EMBED_VARIANT": another_variant()}, "holds vectors of all-MiniLM-L6-v2")],
    ids=["another collection", "another variant"],
)
def test_a_service_of_another_collection_or_model_is_not_used(
    env: dict[str, str], says: str, library: Settings, service: Service, redis_url: str,
    tmp_path: Path,
) -> None:
    up = stack_with_service(tmp_path / "up", redis_url, library, service)
    done = ragmill(["query", "whales"], up, library, no_model=True, **env)
    # The command's own answer (the service would have found the library's whales).
    assert done.returncode != 0 and says in done.stderr and not done.stdout


def test_an_unset_variant_and_the_default_named_are_the_same_reader() -> None:
    settings = Settings.from_env().with_changes(embed_variant="")
    default = resolve(settings.embed_backend, None).name
    assert reader_of(settings) == reader_of(settings.with_changes(embed_variant=default))
    assert reader_of(settings) != reader_of(settings.with_changes(embed_variant=another_variant()))


def test_without_a_running_service_the_command_searches_on_its_own(
    library: Settings, redis_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "gone"
    data_dir.mkdir()
    info = StackInfo(redis_url=redis_url, chroma_url=str(library.chroma_url), flower_url=None,
                     mode="up", owner_pid=os.getpid(), serve_url="http://127.0.0.1:9")
    (data_dir / "stack.json").write_text(json.dumps(asdict(info)))
    done = ragmill(["query", "whales", "--json"], data_dir, library, no_model=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["book_id"] == "1001"
