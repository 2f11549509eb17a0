"""Compose-tier fixtures: chaos scenarios against a running docker compose ``edge-mesh``.

The scenarios run only when a compose topology is provided, by either of

    GATEMESH_RUNNER=compose pytest tests/compose        # any pytest invocation
    pytest tests/compose --runner compose               # this folder given on the command line

and otherwise skip with the reason (the default ``pytest -n auto tests`` run never
touches Docker). ``scripts/compose-tier.sh`` brings the topology up first:

    docker compose -p gatemesh-edge-mesh -f compose/edge-mesh.yml -f compose/edge-mesh.test.yml up -d

The second file (rendered and committed beside the first) publishes, on 127.0.0.1, the
control plane, Toxiproxy's API and every app and sidecar port, which the scenarios need
for an app's ``/admin/*`` and for calling ``sidecar-storefront-1``'s outbound port as
its app would; the default file publishes only the entry and the UIs. The admin token
comes from the control plane's container (``ComposeProject.credentials``). ``GATEMESH_COMPOSE_PROJECT`` names the compose project when it is not
the only one running edge-mesh.

The scenario helpers are the chaos suite's own (``tests/chaos/chaoslib.py``: calls at the
edge and in the mesh, policies at either location, reset and convergence); only the
backend differs: ``ComposeChaos`` drives containers through
``gatemesh.faults.compose_backend`` instead of processes through the runner.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

TOPOLOGY = "edge-mesh"
READY_TIMEOUT_S = 180.0


def pytest_addoption(parser: pytest.Parser) -> None:
    try:
        parser.addoption(
            "--runner",
            choices=("process", "compose"),
            default=None,
            help="compose: run tests/compose's scenarios against a running compose edge-mesh "
            "(same as GATEMESH_RUNNER=compose)",
        )
    except ValueError:  # another conftest (the chaos suite's) registered it first: share it
        pass


def runner_kind(config: pytest.Config) -> str:
    try:
        option = config.getoption("--runner")
    except ValueError:  # this conftest was not an initial one: the option is not registered
        option = None
    return option or os.environ.get("GATEMESH_RUNNER", "process")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if runner_kind(config) == "compose":
        return
    skip = pytest.mark.skip(
        reason="compose scenarios need a running compose edge-mesh: run "
        "scripts/compose-tier.sh, or GATEMESH_RUNNER=compose pytest tests/compose"
    )
    for item in items:
        if "compose" in item.keywords and "compose_chaos" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


def _chaoslib() -> Any:
    try:  # tests/chaos is on pytest's pythonpath (pyproject.toml)
        import chaoslib
    except ImportError as e:
        pytest.fail(f"the chaos suite's helpers (tests/chaos/chaoslib.py) cannot be imported: {e}", pytrace=False)
    return chaoslib


def make_compose_chaos(backend: Any) -> Any:
    """A ``chaoslib.Chaos`` whose faults and restarts go to containers."""
    chaoslib = _chaoslib()
    from gatemesh.faults import Faults
    from gatemesh.security.credentials import bearer

    class ComposeRunner:
        """What ``Chaos`` asks of a runner, answered by the compose backend."""

        def __init__(self) -> None:
            self.topology = backend.topology
            # the credentials the one-shot service made, read in the control plane's container
            self.credentials = backend.project.credentials()

        def admin_headers(self) -> dict[str, str]:
            return bearer(self.credentials.admin_token)

        def restart(self, name: str) -> Any:
            return backend.restart(name)

        def scale(self, service: str, n: int) -> Any:
            raise AssertionError("a compose topology has the instance counts of its compose file")

    class ComposeChaos(chaoslib.Chaos):
        def __init__(self) -> None:
            runner = ComposeRunner()
            super().__init__(runner)
            # the apps' /admin/* answers only its sidecar's calls or the admin token's
            self.faults = Faults(backend, token=runner.credentials.admin_token)
            self.backend = backend

        def reset(self) -> None:
            backend.heal_all()
            self.flush_connections()
            super().reset()  # ... whose Toxiproxy reset enables every proxy again

        def flush_connections(self) -> None:
            """Close every connection through Toxiproxy by disabling every proxy. A killed or
            cut-off container sends no RST (its network namespace is just gone), so a
            connection pooled before can outlive it, where a killed process's would be
            reset at once; no scenario inherits one from the scenario before."""
            for proxy in self.faults.toxiproxy.snapshot():
                self.faults.toxiproxy.set_enabled(proxy, False)

    return ComposeChaos()


@pytest.fixture(scope="session")
def compose_chaos(request: pytest.FixtureRequest) -> Iterator[Any]:
    if runner_kind(request.config) != "compose":
        pytest.skip("compose scenarios need GATEMESH_RUNNER=compose (or --runner compose)")
    from gatemesh.compose.project import ProjectError
    from gatemesh.faults import FaultError
    from gatemesh.faults.compose_backend import ComposeBackend

    try:
        backend = ComposeBackend.for_topology(TOPOLOGY, os.environ.get("GATEMESH_COMPOSE_PROJECT") or None)
        backend.project.wait_ready(READY_TIMEOUT_S)
    except (FaultError, ProjectError) as e:
        pytest.fail(f"no ready compose {TOPOLOGY} to run against: {e}", pytrace=False)
    missing = [m.name for m in backend.members() if m.kind == "service" and not m.admin_url]
    if missing:
        pytest.fail(
            f"the apps' ports are not published ({', '.join(missing[:3])} ...); bring the topology up "
            f"with the tests' override: -f compose/{TOPOLOGY}.test.yml",
            pytrace=False,
        )
    chaos = make_compose_chaos(backend)
    chaos.reset()
    yield chaos
    chaos.reset()


@pytest.fixture
def chaos(compose_chaos: Any) -> Iterator[Any]:
    """The chaos suite's ``chaos`` fixture, on containers: reset before and after."""
    compose_chaos.reset()
    yield compose_chaos
    compose_chaos.reset()
