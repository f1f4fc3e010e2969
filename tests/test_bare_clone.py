"""A fresh clone has no shared/ folder beside it: the tests that read the real books skip.

The tests that read the real Gutenberg books run again in a child pytest with RAGMILL_SHARED_DIR
naming a folder that does not exist, as on a clone with nothing beside it. The slow end-to-end
tests fall back to synthetic books instead (tests/support/shared.py) and are not run again here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.shared import (
    ONLY_READERS_VARIABLE,
    READS_SHARED,
    ROOT,
    SHARED_DIR_VARIABLE,
)

TESTS = ROOT / "tests"
# A path to the shared folder spelled out, which would bypass tests/support/shared.py.
SPELLS_SHARED_PATH = re.compile(r"""["']shared["']|["']\.\./shared""")


def modules_reading_shared() -> list[Path]:
    return sorted(
        path
        for path in TESTS.rglob("test_*.py")
        if path.name != Path(__file__).name and READS_SHARED.search(path.read_text())
    )


def test_only_the_shared_module_knows_where_the_real_books_are() -> None:
    spelled = [
        str(path.relative_to(ROOT))
        for path in TESTS.rglob("*.py")
        if path.name not in ("shared.py", Path(__file__).name)
        and SPELLS_SHARED_PATH.search(path.read_text())
    ]
    assert spelled == [], "find the shared folder through tests.support.shared"


def test_the_tests_that_read_the_real_books_pass_without_them(tmp_path: Path) -> None:
    modules = modules_reading_shared()
    assert {p.name for p in modules} >= {"test_gutenberg_corpus.py", "test_embedding.py"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         *map(str, modules)],
        env={**os.environ, SHARED_DIR_VARIABLE: str(tmp_path / "absent"),
             ONLY_READERS_VARIABLE: "1"},
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "error" not in summary and "failed" not in summary, summary
    # The override took effect: the tests that need the books were skipped, naming the folder.
    assert re.search(r"\d+ skipped", summary), summary
    assert str(tmp_path / "absent") in done.stdout
