"""discovery: a dead host — catalog-2's app and sidecar are killed (kill -9, so nothing
deregisters) while calls flow, with no retries to hide the errors.

With the registry up, the dead instance drops out when its TTL (3 s) lapses: the last
failed call is at most TTL + 1 s after the kill. Control arm: with the control plane
killed first, nobody expires it: the proxies keep the stale endpoint and calls keep
failing on it well after the TTL — while the calls to the live instances still succeed
(losing the control plane loses no traffic to healthy instances).
"""

from __future__ import annotations

import time

import pytest
from test_discovery_catalog_scale import Traffic

from chaoslib import EDGE, MESH

TTL_S = 3.0  # the topology's registration TTL
SETTLE_S = 1.0  # sweeper (0.5 s) + the watch push + one call in flight
OBSERVE_S = TTL_S + SETTLE_S + 0.7

pytestmark = [pytest.mark.discovery, pytest.mark.slow]
WHERE = [pytest.param(EDGE, marks=pytest.mark.edge), pytest.param(MESH, marks=pytest.mark.mesh)]


def kill_host_during_traffic(chaos, where):
    with Traffic(chaos, where) as traffic:
        chaos.wait_until("some calls", lambda: len(traffic.results) >= 10)
        killed_at = time.monotonic()
        chaos.faults.kill("sidecar-catalog-2")
        chaos.faults.kill("catalog-2")
        chaos.wait_until(
            "the observation window", lambda: time.monotonic() - killed_at >= OBSERVE_S, timeout_s=OBSERVE_S + 5
        )
    return traffic.results, killed_at


@pytest.mark.parametrize("where", WHERE)
def test_killed_host_stops_getting_traffic_by_its_ttl(chaos, where):
    results, killed_at = kill_host_during_traffic(chaos, where)

    errors = [r for r in results if not r.ok]
    assert errors, "the kill caused no error at all: did it land?"
    last = max(r.started_s for r in errors) - killed_at
    assert last <= TTL_S + SETTLE_S, f"calls still failed {last:.2f}s after the kill"
    assert "catalog-2" not in chaos.registered("catalog")
    tail = [r for r in results if r.started_s > killed_at + TTL_S + SETTLE_S]
    assert len(tail) >= 10 and all(r.ok for r in tail), tail


@pytest.mark.parametrize("where", WHERE)
def test_control_with_the_control_plane_down_the_dead_host_stays_in(chaos, where):
    chaos.faults.kill("controlplane")
    results, killed_at = kill_host_during_traffic(chaos, where)

    late = [r for r in results if r.started_s > killed_at + TTL_S + SETTLE_S]
    failed = [r for r in late if not r.ok]
    assert len(late) >= 10, "too few calls to judge"
    assert len(failed) >= len(late) // 6, f"only {len(failed)} of {len(late)} late calls failed"
    assert all(r.ok for r in late if r.instance in ("catalog-1", "catalog-3"))
    assert len(late) - len(failed) >= len(late) // 2  # the live instances still serve their share
