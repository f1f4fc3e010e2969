"""docs/configuration.md lists exactly the variables the settings module reads."""

from __future__ import annotations

import re
from pathlib import Path

from tasks.settings import Settings, env_variables

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \|", re.MULTILINE)


def test_the_configuration_table_names_every_variable_and_no_other() -> None:
    documented = ROW.findall(DOC.read_text())
    assert len(documented) == len(set(documented)), "a variable has two rows"
    assert set(documented) == set(env_variables())


def test_every_variable_is_read_from_the_environment() -> None:
    # One variable per field: setting each to a value of its own kind changes the settings.
    changed = Settings.from_env({"IO_THREADS": "3", "LLM_THREADS": "5", "EMBED_CONCURRENCY": "2"})
    assert (changed.io_threads, changed.llm.threads, changed.embed_processes) == (3, 5, 2)
    assert len(env_variables()) == len(set(env_variables()))
