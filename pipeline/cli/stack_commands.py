"""`ragmill up` and `ragmill status`: the local stack in the foreground, and what runs did."""

from __future__ import annotations

import time
from pathlib import Path

import click

from pipeline.cli.output import (
    console,
    fail,
    load_settings,
    one_line_errors,
    out,
    sigterm_as_interrupt,
)
from pipeline.ingest.status import show_status
from pipeline.stack.broker import connect
from pipeline.stack.cluster import find_cluster
from pipeline.stack.local import LocalStack, StackPlan
from pipeline.stack.service import DEFAULT_PORT
from tasks.embedding.backend import EmbeddingBackend


@click.command()
@click.option("--flower-port", type=click.IntRange(1, 65535), default=5555, show_default=True)
@click.option(
    "--flower-address",
    help="Address Flower listens on (default FLOWER_ADDRESS, else 127.0.0.1); beyond loopback "
    "it needs FLOWER_BASIC_AUTH=user:password.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Embed processes (default: cores).")
@click.option("--serve-port", type=click.IntRange(1, 65535), default=DEFAULT_PORT,
              show_default=True, help="Port of the search service (ragmill serve) on 127.0.0.1.")
@click.option("--no-serve", is_flag=True, help="Start no search service.")
@click.option("--data-dir", type=click.Path(path_type=Path))
def up(flower_port: int, flower_address: str | None, workers: int | None, serve_port: int,
       no_serve: bool, data_dir: Path | None) -> None:
    """Run the local stack with Flower in the foreground until Ctrl-C.

    While it runs, `ragmill ingest` and `ragmill query` in another terminal use it.
    Flower asks for a password when FLOWER_BASIC_AUTH=user:password is set.
    """
    settings = load_settings(data_dir, flower_address=flower_address)
    if find_cluster(settings).stack is not None:
        fail(f"a ragmill stack already runs for {settings.data_dir}")
    plan = StackPlan(
        flower_port=flower_port,
        flower_address=settings.flower_address,
        embed_concurrency=workers or settings.embed_processes,
        # An LLM worker when one is configured, so `ingest --contextualize` can use this stack.
        llm_threads=settings.llm.threads if settings.llm.configured else 0,
        remote_embed_threads=EmbeddingBackend.from_settings(settings).remote_threads,
        serve_port=None if no_serve else serve_port,
    )
    stack = LocalStack(settings.data_dir, plan, mode="up")
    sigterm_as_interrupt()
    try:
        with one_line_errors():
            info = stack.start(wait_for_lock=5.0)
        console.print(
            f"Redis   {info.redis_url}\nChroma  {info.chroma_url}\nFlower  {info.flower_url}"
            + (f"\nSearch  {info.serve_url}" if info.serve_url else "")
        )
        console.print(f"Logs in {stack.logs}. Ctrl-C stops everything.")
        while all(s.alive() for s in stack.services):
            time.sleep(0.5)
        dead = [s for s in stack.services if not s.alive()]
        fail(f"{dead[0].name} stopped unexpectedly; see {dead[0].log_path}")
    except KeyboardInterrupt:
        console.print("Stopping…")
    finally:
        stack.stop()


@click.command()
@click.argument("run_id", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.option("--data-dir", type=click.Path(path_type=Path))
def status(run_id: str | None, as_json: bool, data_dir: Path | None) -> None:
    """Show what recent ingest runs have done and what is left."""
    settings = load_settings(data_dir)
    with one_line_errors():
        redis_url = settings.redis_url or find_cluster(settings).redis_url
        if redis_url is not None:
            show_status(connect(redis_url), run_id, as_json, out)
            return
        if not (settings.data_dir / "redis").exists():
            fail(f"no ingest has run under {settings.data_dir} yet")
        with LocalStack(settings.data_dir, StackPlan(workers=False)) as own:
            show_status(connect(own.redis_url), run_id, as_json, out)
