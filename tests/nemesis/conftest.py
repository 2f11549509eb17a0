"""Nemesis fixtures: a small edge-mesh topology of real processes (real Toxiproxy) per
test, on a port base of its own, optionally with a component's command changed (the
control arms run yesterday's control plane this way).

- ``nemesis_topology(transform=None, counts=None)`` (function): start one and return its
  ``ProcessRunner``; everything started is stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gatemesh.runner import ProcessRunner, RunnerError
from gatemesh.topology import PortPlan, Topology, build_topology

COUNTS = {"catalog": 2, "pricing": 1, "inventory": 1, "reviews": 1, "storefront": 1, "orders": 2}
START_TIMEOUT_S = 90.0
NEMESIS_TIMEOUT_S = 900  # the suite's 120 s is too short for a topology plus a minute of faults; still bounded


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.nemesis)
            item.add_marker(pytest.mark.chaos)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(NEMESIS_TIMEOUT_S))


@pytest.fixture
def nemesis_topology(port_bases, tmp_path: Path) -> Iterator[Callable[..., ProcessRunner]]:
    started: list[tuple[ProcessRunner, int]] = []

    def start(
        transform: Callable[[Topology], Topology] | None = None, counts: dict[str, int] | None = None, **opts
    ) -> ProcessRunner:
        base = port_bases.acquire()
        opts.setdefault("dashboard", False)  # an observer the nemesis does not need
        topology = build_topology("edge-mesh", PortPlan.from_base(base), counts or COUNTS, **opts)
        if transform is not None:
            topology = transform(topology)
        runner = ProcessRunner(topology, tmp_path / f"run-{len(started) + 1}")
        started.append((runner, base))
        try:
            runner.start(timeout_s=START_TIMEOUT_S)
        except RunnerError as e:
            pytest.fail(f"the nemesis topology did not start: {e}\n{e.log_tail}", pytrace=False)
        return runner

    yield start
    for runner, base in reversed(started):
        runner.stop()
        port_bases.release(base)
