"""Flower in a real browser: `ragmill up` serves it, and during an ingest it shows the work.

Debian's headless Chromium, driven by selenium through /usr/bin/chromedriver, logs in with basic
auth, opens the workers and tasks pages while a real ingest runs, and saves screenshots.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from pipeline.stack.processes import free_port
from tests.support.cli import RAGMILL, ingest_argv
from tests.support.mirror import Mirror, serve_mirror
from tests.support.shared import publish_real_or_synthetic
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
USER, PASSWORD = "watcher", "flower-test-password"
# A real book where shared/ has it (long enough to watch: 225 chunks); else the synthetic ones.
REAL_BOOKS = ("11",)


@dataclass
class Up:
    """A running `ragmill up` and where its Flower listens."""

    flower_url: str
    data_dir: Path
    env: dict[str, str]
    mirror: Mirror
    books: list[str]


def auth_header() -> str:
    return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    root = tmp_path_factory.mktemp("flower")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CHROMA_URL")}
    env.update(FLOWER_BASIC_AUTH=f"{USER}:{PASSWORD}", HF_HUB_OFFLINE="1")
    port = free_port()
    data_dir = root / "data"
    with serve_mirror(root / "mirror") as mirror, open(root / "up.log", "wb") as log:
        books = publish_real_or_synthetic(mirror, list(REAL_BOOKS))
        env["GUTENBERG_MIRROR"] = mirror.url
        process = subprocess.Popen(
            [RAGMILL, "up", "--flower-port", str(port), "--serve-port", str(free_port()),
             "--data-dir", str(data_dir)],
            env=env,
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"

        def started() -> bool:
            # A `ragmill up` that died fails at once, with its log.
            assert process.poll() is None, (root / "up.log").read_text()
            return (data_dir / "stack.json").is_file()

        try:
            wait_for(started, 120, "ragmill up to start")
            yield Up(url, data_dir, env, mirror, books)
        finally:
            process.terminate()
            process.wait(timeout=60)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    pytest.importorskip("selenium", reason="selenium is in the test extra: pip install -e .[test]")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-quic",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        # Every request the pages make, their AJAX included, carries the login.
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.setExtraHTTPHeaders", {"headers": {"Authorization": auth_header()}}
        )
        yield driver
    finally:
        driver.quit()


def flower_tasks(up: Up, name: str) -> dict[str, Any]:
    """Flower's API record of every task named `name` it has seen, by task id."""
    found: dict[str, Any] = requests.get(
        f"{up.flower_url}/api/tasks", params={"taskname": name}, auth=(USER, PASSWORD), timeout=30
    ).json()
    return found


def page_text(browser: Any) -> str:
    """The page's text with runs of whitespace as one space (no layout line breaks)."""
    return str(browser.execute_script("return document.body.textContent.replace(/\\s+/g, ' ')"))


def table_rows(browser: Any, table_id: str) -> list[tuple[str, str | None]]:
    """(text, link to a task page or None) of each row of a Flower table."""
    rows = browser.execute_script(
        """return [...document.querySelectorAll('#' + arguments[0] + ' tbody tr')].map(r => [
            r.textContent.replace(/\\s+/g, ' '),
            (r.querySelector("a[href*='/task/']") || {}).href || null])""",
        table_id,
    )
    return [(str(text), link) for text, link in rows]


def start_ingest(up: Up, collection: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ingest_argv(collection, "--data-dir", str(up.data_dir), *up.books),
        env=up.env,
        cwd=up.data_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_flower_asks_for_login_and_serves_metrics_without_one(up: Up) -> None:
    assert requests.get(f"{up.flower_url}/workers", timeout=10).status_code == 401
    assert (
        requests.get(
            f"{up.flower_url}/workers", auth=(USER, "wrong-password"), timeout=10
        ).status_code
        == 401
    )
    assert (
        requests.get(f"{up.flower_url}/workers", auth=(USER, PASSWORD), timeout=10).status_code
        == 200
    )
    metrics = requests.get(f"{up.flower_url}/metrics", timeout=10)
    assert metrics.status_code == 200
    assert "flower_worker_online" in metrics.text


def test_browser_sees_workers_online_and_the_ingest_tasks_with_book_and_batch(
    up: Up, browser: Any, tmp_path: Path
) -> None:

    stack = json.loads((up.data_dir / "stack.json").read_text())
    io_node, embed_node = (
        f"{kind}-{stack['owner_pid']}@{os.uname().nodename}" for kind in ("io", "embed")
    )
    ingest = start_ingest(up, "flower_browser")
    try:
        browser.get(f"{up.flower_url}/workers")

        def workers_online() -> bool:
            rows = table_rows(browser, "workers-table")
            return all(
                any(node in text and "Online" in text for text, _ in rows)
                for node in (io_node, embed_node)
            )

        wait_for(workers_online, 60, f"{io_node} and {embed_node} online on /workers", step=0.5)
        browser.save_screenshot(str(tmp_path / "flower-workers.png"))
        watched_during_ingest = ingest.poll() is None

        def succeeded_batches() -> list[tuple[str, str]]:
            # The tasks page loads its table once, so look again with a fresh page each time.
            browser.get(f"{up.flower_url}/tasks")
            wait_for(
                lambda: "Showing" in page_text(browser) or "No tasks to show" in page_text(browser),
                30,
                "the tasks table",
                step=0.5,
            )
            return [
                (text, link)
                for text, link in table_rows(browser, "tasks-table")
                if "ragmill.embed_batch" in text and "SUCCESS" in text and link
            ]

        rows = wait_for(
            succeeded_batches, 120, "succeeded ragmill.embed_batch rows on /tasks", step=0.5
        )
        browser.save_screenshot(str(tmp_path / "flower-tasks.png"))
        # The task's own page, reached from its row, shows the arguments.
        browser.get(rows[0][1])
        detail = wait_for(
            lambda: "Arguments" in page_text(browser) and page_text(browser),
            30,
            "the task page's arguments",
            step=0.5,
        )
        browser.save_screenshot(str(tmp_path / "flower-task.png"))
        stdout, stderr = ingest.communicate(timeout=240)
    except AssertionError as exc:
        browser.save_screenshot(str(tmp_path / "flower-failure.png"))
        if ingest.poll() is None:
            ingest.kill()
        out, err = ingest.communicate(timeout=30)
        raise AssertionError(f"{exc}\ningest exit {ingest.returncode}:\n{out}\n{err}") from exc
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
    assert ingest.returncode == 0, stderr
    summary = json.loads(stdout)
    assert watched_during_ingest, "the ingest ended before the workers page was seen"
    assert embed_node in rows[0][0]
    # The arguments say which run, book and batch the task was.
    assert re.search(
        rf"Keyword arguments \(run={summary['run']}, book=({'|'.join(up.books)}), "
        rf"batch=\d+, chunks=\d+\)",
        detail,
    ), detail[:2000]

    # Flower's API agrees with the page: every batch of the run succeeded, on the embed node.
    tasks = flower_tasks(up, "ragmill.embed_batch")
    run_tasks = [t for t in tasks.values() if summary["run"] in (t.get("kwargs") or "")]
    assert run_tasks and all(t["state"] == "SUCCESS" for t in run_tasks)
    assert {t["worker"] for t in run_tasks} == {embed_node}
    stored = sum(ast.literal_eval(t["result"])["chunks"] for t in run_tasks)
    assert stored == summary["chunks_new"]
    fetched = flower_tasks(up, "ragmill.fetch_book")
    assert {t["worker"] for t in fetched.values() if summary["run"] in (t.get("kwargs") or "")} == {
        io_node
    }

    # Keep a picture for the docs when asked to (RAGMILL_DOCS_SCREENSHOTS=1).
    if os.environ.get("RAGMILL_DOCS_SCREENSHOTS") == "1":
        for name in ("flower-workers.png", "flower-tasks.png", "flower-task.png"):
            shutil.copy(tmp_path / name, ROOT / "docs" / name)


def test_up_refuses_flower_beyond_loopback_without_a_login(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "FLOWER_BASIC_AUTH")}
    done = subprocess.run(
        [
            RAGMILL,
            "up",
            "--flower-address",
            "0.0.0.0",
            "--flower-port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "FLOWER_BASIC_AUTH" in done.stderr and "0.0.0.0" in done.stderr
    # It stopped before starting any service.
    assert not (tmp_path / "data" / "stack.json").exists()
    assert not (tmp_path / "data" / "logs").exists()
