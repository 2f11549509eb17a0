"""Chaos fixtures: one small edge-mesh topology per xdist worker, shared by every
scenario that worker runs, put back as it was before and after each scenario.

- ``chaos_topology`` (session): the running topology (real processes, real Toxiproxy) on
  a port base of its own, started on first use. The gateway's rate limit is raised out
  of the way (the chaos bursts are not about API management), and every pattern starts
  switched off at both locations (``chaoslib.baseline``): each scenario switches on the
  pattern it is about, and its control arm leaves it off.
- ``chaos`` (function): the ``chaoslib.Chaos`` helper, after a full reset; reset again
  after the test: faults removed, paused processes resumed, killed ones restarted,
  counts and policies back to the baseline, the gateway and the caller's sidecar clean.

``GATEMESH_MTLS=strict`` (or ``permissive``) runs the whole suite with mutual TLS between
the proxies, through Toxiproxy (docs/security.md); the fixture checks the mode took.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gatemesh.topology import PortPlan, Topology, build_topology

from chaoslib import Chaos, started

COUNTS = {"catalog": 3, "pricing": 2, "inventory": 1, "reviews": 1, "storefront": 1, "orders": 2}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.chaos)


@pytest.fixture(scope="session")
def chaos_topology(port_bases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    def build(plan: PortPlan) -> Topology:
        return build_topology("edge-mesh", plan, COUNTS, rate_per_s=100_000, burst=100_000)

    with started(port_bases, tmp_path_factory.mktemp("chaos"), "chaos", build) as runner:
        chaos = Chaos(runner)
        mode = os.environ.get("GATEMESH_MTLS", "off")
        seen = requests.get(chaos.caller_admin + "/-/mtls", timeout=5).json()["mode"]
        assert seen == mode, f"GATEMESH_MTLS={mode} but the caller's sidecar runs mTLS {seen}"
        chaos.reset()
        yield chaos


@pytest.fixture
def chaos(chaos_topology: Chaos) -> Iterator[Chaos]:
    chaos_topology.reset()
    yield chaos_topology
    chaos_topology.reset()
