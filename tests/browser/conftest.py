"""Browser fixtures: a real `gatemesh up` edge-mesh run (its dashboard among its
components) and Playwright driving Debian's Chromium against the dashboard.

- ``dashboard_run`` (module): ``gatemesh up --detach`` on a port base of its own in a
  temporary GATEMESH_HOME, ``gatemesh down`` at the end; yields ``gatemesh status --json``.
- ``page`` (function): a fresh Chromium profile, the dashboard open and live; a screenshot
  per scenario goes to ``tests/browser/output/<test>.png`` (git-ignored; ``pagelib.snap``,
  taken at the end of each scenario before its clean-up), and the test fails if the page logged a console
  error or threw.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gatemesh.dashboard.browser import CHROMIUM, launch

from pagelib import gatemesh

REFUSED = "Failed to load resource: the server responded with a status of 400"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def dashboard_run(port_bases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing; run scripts/install-browser.sh (apt-get install chromium)", pytrace=False)
    base = port_bases.acquire()
    home = tmp_path_factory.mktemp("home")
    name = f"browser-{base}"
    up = gatemesh(home, "up", "--detach", "--name", name, "--port-base", str(base))
    try:
        if up.returncode != 0:
            pytest.fail(f"gatemesh up failed:\n{up.stdout}\n{up.stderr}", pytrace=False)
        assert f"dashboard      http://127.0.0.1:{base + 90}/" in up.stdout, up.stdout
        status = json.loads(gatemesh(home, "status", "--json", "--name", name).stdout)
        assert status["dashboard"] == f"http://127.0.0.1:{base + 90}/"
        status["_home"], status["_name"] = home, name
        yield status
    finally:
        gatemesh(home, "down", "--name", name)
        port_bases.release(base)


@pytest.fixture(scope="module")
def browser_context(dashboard_run: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = launch(p, "gatemesh-chromium-", {"width": 1500, "height": 1100})
        try:
            yield ctx
        finally:
            ctx.close()


@pytest.fixture
def page(browser_context: Any, dashboard_run: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[Any]:
    problems: list[str] = []
    pg = browser_context.new_page()

    def on_console(m: Any) -> None:
        # A control refused with 400 is the API's designed answer, shown on the page as its
        # one-line error; Chromium also logs every 4xx fetch. Those lines alone are expected.
        refused = m.text.startswith(REFUSED) and "/api/" in (m.location or {}).get("url", "")
        if m.type == "error" and not refused:
            problems.append(f"console {m.type}: {m.text} ({(m.location or {}).get('url')})")

    pg.on("console", on_console)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.goto(dashboard_run["dashboard"])
    pg.wait_for_function("document.getElementById('link').textContent === 'live'", timeout=15_000)
    pg.wait_for_selector("g.inst", timeout=15_000)
    yield pg
    pg.close()
    assert not problems, "the page logged errors:\n" + "\n".join(problems)
