"""Fixtures for writing your own chaos test in about twenty lines.

Installed with gatemesh (a ``pytest11`` entry point), so any test file can use them:

``gatemesh``   a running topology for the whole session (``edge-mesh`` unless
               ``--gatemesh-topology`` says otherwise), started with ``gatemesh up`` on
               ports nobody else holds, stopped at the end. It is a
               ``gatemesh.workshop.LabContext``: ``.faults`` (the fault API), ``.policies``
               (the policy client), ``.load(path, n)``, ``.call(path)``, ``.calls(instance)``.
``clean``      use it in a test to start from a fresh demo and leave one behind:
               ``gatemesh reset`` before and after (faults, policies, breakers, ejections).

A test injects a fault, sends load, counts at the instance, and asserts both arms::

    @pytest.mark.parametrize("breaker", [True, False])
    def test_breaker(gatemesh, clean, breaker):
        gatemesh.policies.set("pricing", "edge", settings=[f"breaker.enabled={breaker}"])
        ...

See docs/workshop/writing-a-chaos-test.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gatemesh.runner import portlock
from gatemesh.workshop import LabContext, reset_all

START_TIMEOUT_S = 120  # `gatemesh up` on a loaded laptop; it reports progress and fails with a sentence on its own


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gatemesh")
    group.addoption("--gatemesh-topology", default="edge-mesh", help="topology the `gatemesh` fixture runs")


Demo = LabContext  # the fixture's type: calls(instance), load, call, faults, policies


@pytest.fixture(scope="session")
def gatemesh(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    home = tmp_path_factory.mktemp("gatemesh-home")
    name = f"pytest-{os.getpid()}"
    lock = portlock.acquire()
    old_home = os.environ.get("GATEMESH_HOME")
    os.environ["GATEMESH_HOME"] = str(home)  # this run's state lives in the test's own folder
    cli = [sys.executable, "-m", "gatemesh.cli"]
    try:
        up = subprocess.run(
            [
                *cli,
                "up",
                "--detach",
                "--name",
                name,
                "--port-base",
                str(lock.base),
                "--topology",
                request.config.getoption("--gatemesh-topology"),
            ],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            cwd=Path.cwd(),
        )
        if up.returncode != 0:
            pytest.fail(f"gatemesh up failed: {(up.stderr or up.stdout).strip()}", pytrace=False)
        demo = Demo(name)
        try:
            yield demo
        finally:
            demo.close()
            subprocess.run([*cli, "down", "--name", name], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    finally:
        lock.release()
        if old_home is None:
            os.environ.pop("GATEMESH_HOME", None)
        else:
            os.environ["GATEMESH_HOME"] = old_home


@pytest.fixture
def clean(gatemesh: Demo) -> Iterator[None]:
    reset_all(gatemesh)
    yield
    reset_all(gatemesh)
