"""Where the CLI writes, and how it ends: results on stdout, messages and errors on stderr.

Exit codes, the same for every command:
    0    done (ingest: every book landed; query: something was found)
    1    it did not work, or found nothing (a failed book, no results, a lost service)
    2    the command or a setting was wrong; nothing was done
    130  stopped by Ctrl-C or SIGTERM; what was stored stays stored
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape

from pipeline.errors import RagmillError
from pipeline.search.query import Result
from tasks.errors import TaskError
from tasks.settings import Settings, SettingsError

console = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line error and exit; no traceback for mistakes a person can fix."""
    console.print(f"[red]error:[/] {escape(message)}")
    sys.exit(code)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn ragmill's own errors into one line on stderr and their exit code: the two roots,
    pipeline/errors.py's and tasks/errors.py's, mapped here for every command."""
    try:
        yield
    except SettingsError as exc:
        fail(str(exc), 2)
    except RagmillError as exc:
        fail(str(exc), exc.exit_code)
    except TaskError as exc:  # an endpoint refused, its shared limit was busy, ...
        fail(str(exc), 1)


def load_settings(data_dir: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment with the command's options over them."""
    with one_line_errors():
        settings = Settings.from_env()
        changes = {k: v for k, v in overrides.items() if v is not None}
        if data_dir is not None:
            changes["data_dir"] = data_dir.absolute()
        return settings.with_changes(**changes) if changes else settings


def sigterm_as_interrupt() -> None:
    """SIGTERM (a service manager, `kill`) stops the command exactly as Ctrl-C does."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def result_label(r: Result) -> str:
    return f"{r.book_id}:{r.position}"


def print_passages(results: Sequence[Result]) -> None:
    """Passages as `ragmill ask` shows its sources:
    [book:chunk] title — author · chapter · p. 12 (score)."""
    for r in results:
        where = " · ".join(filter(None, [r.chapter, r.pages]))
        out.print(
            f"[bold]{escape('[' + result_label(r) + ']')}[/] "
            f"{escape(r.title)}{' — ' + escape(r.author) if r.author else ''}"
            f"{' · ' + escape(where) if where else ''} (score {r.score:.3f})",
            highlight=False,
        )
        out.print(r.text.strip(), markup=False, highlight=False)
        out.print()
