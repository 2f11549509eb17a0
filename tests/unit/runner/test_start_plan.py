"""gatemesh.runner.process_runner.start_plan: which start groups come up together.

The parts that wait for nothing (Toxiproxy, Jaeger, the control plane, the apps, the
dashboard) start at once; every group that depends on another keeps its turn and its
order, so a sidecar never starts before its control plane and app are healthy."""

from __future__ import annotations

import pytest

from gatemesh.runner.process_runner import start_plan
from gatemesh.topology import build_topology


def kinds(groups) -> list[list[str]]:
    return [sorted({c.kind for c in g}) for g in groups]


@pytest.mark.parametrize("name", ["edge", "mesh", "edge-mesh", "sidecar-gateway"])
def test_independent_groups_start_together_and_the_rest_in_their_order(name):
    topo = build_topology(name)
    together, in_turn = start_plan(topo.groups())
    started = {c.name for g in together + in_turn for c in g}
    assert started == {c.name for c in topo.components}  # nothing left out, nothing twice
    assert sum(len(g) for g in together + in_turn) == len(topo.components)
    flat = {k for g in kinds(together) for k in g}
    assert flat <= {"toxiproxy", "jaeger", "controlplane", "service", "dashboard"}
    assert {"toxiproxy", "controlplane", "service"} <= flat
    waiting = kinds(in_turn)
    assert all(k in {"sidecar", "gateway", "prometheus", "dashboard"} for g in waiting for k in g)
    groups = [c.group for g in in_turn for c in g]
    assert groups == sorted(groups)  # the topology's order is kept for what waits


def test_a_group_with_one_dependent_kind_keeps_its_turn():
    topo = build_topology("edge-mesh", prometheus=True)
    together, in_turn = start_plan(topo.groups())
    assert ["dashboard", "prometheus"] in kinds(in_turn)  # Prometheus scrapes the proxies: after them
    assert all("dashboard" not in g for g in kinds(together))
