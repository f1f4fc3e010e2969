"""Reliability tables made from test outcomes, as docs/reliability.md shows them.

A test joins a table with ``@pytest.mark.reliability(table, case, order=N)``, where ``case``
says what was done, and tells what it checked and what it saw with
``record_property("checked", ...)`` and ``record_property("observed", ...)``. A test that checks
many inputs in one run records ``record_property("rows", [{"case", "checked", "observed"}, ...])``
instead. When the session ends, the rows are written, sorted by ``order``, to
``reliability-report.md`` and ``reliability-report.json`` under RAGMILL_REPORT_DIR (default
``build/``). Registered for the whole suite by ``pytest_plugins`` in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

TABLES = {
    "fault": "Faults survived",
    "bad-input": "Bad input",
    "security": "Security",
}
_rows: list[dict[str, Any]] = []
ROWS_PROPERTY = "reliability-rows"
# The type of pytest's `record_property` fixture.
RecordProperty = Callable[[str, object], None]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability(table, case): a row of a reliability table (docs/reliability.md)"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    marker = item.get_closest_marker("reliability")
    if marker is None:
        return
    # The call phase decides; a setup that failed or skipped is the row's result too.
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    properties = dict(item.user_properties)
    table, case = marker.args
    order = marker.kwargs.get("order", 0)
    # One run may check many inputs: `rows` (a list of {case, checked, observed}) gives each its
    # own row, all with the test's outcome.
    # A parametrized test names its own case with a `case` property.
    rows: list[dict[str, Any]] = properties.get("rows") or [{"case": case} | properties]  # type: ignore[assignment]
    # The rows travel on the report: under pytest-xdist this hook runs in a test process and
    # pytest_runtest_logreport in the one that writes the tables.
    report.user_properties.append((ROWS_PROPERTY, [
        {
            "table": table,
            "case": row["case"],
            "checked": str(row.get("checked", "")),
            "observed": str(row.get("observed", "")),
            "outcome": report.outcome,
            "seconds": round(report.duration, 1),
            "test": item.nodeid,
            "order": order,
        }
        for row in rows
    ]))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == ROWS_PROPERTY:
            _rows.extend(value)  # type: ignore[arg-type]


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _rows or hasattr(session.config, "workerinput"):  # an xdist test process
        return
    # `order=` on the marker puts rows in the order a reader expects, not pytest's file order.
    _rows.sort(key=lambda row: row["order"])
    folder = Path(os.environ.get("RAGMILL_REPORT_DIR") or session.config.rootpath / "build")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reliability-report.json").write_text(json.dumps(_rows, indent=2) + "\n")
    (folder / "reliability-report.md").write_text(render(_rows))


def render(rows: list[dict[str, Any]]) -> str:
    """The rows as Markdown tables, one per table name, in the order the tests ran."""
    parts = []
    for table, title in TABLES.items():
        mine = [r for r in rows if r["table"] == table]
        if not mine:
            continue
        parts.append(f"### {title}\n")
        parts.append("| what was done | what was checked | what was seen | result | s |")
        parts.append("| --- | --- | --- | --- | --- |")
        for r in mine:
            cells = [r["case"], r["checked"], r["observed"], _result(r["outcome"]), r["seconds"]]
            parts.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        parts.append("")
    return "\n".join(parts) + "\n"


def _result(outcome: str) -> str:
    return {"passed": "pass", "failed": "**FAIL**"}.get(outcome, outcome)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
