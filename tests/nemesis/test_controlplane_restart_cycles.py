"""Five control-plane restarts under 80 req/s through the gateway cost nothing (issue 12,
item 1): the control plane restores its registrations from the state file, so no proxy is
ever handed an empty or partial registry.

Control arm: yesterday's control plane (no state file, no warm-up) on the same topology,
same restarts, same load: services drop to zero endpoints after each restart and clients
see it (404 unknown-service, 503 no-healthy-upstream, degraded pages).
"""

from __future__ import annotations

from nemesislib import with_args, without_persistence

from gatemesh.faults import Faults
from gatemesh.nemesis.restarts import RestartReport
from gatemesh.nemesis.restarts import restart_cycles as restart_cycles_under_load
from gatemesh.runner import ProcessRunner

CYCLES = 5
RATE_PER_S = 80.0
SETTLE_S = 3.0  # between restarts: one TTL, so each cycle starts from a whole registry
WARM_S = 2.0  # traffic before the first restart


def restart_cycles(runner: ProcessRunner) -> RestartReport:
    t = runner.topology
    return restart_cycles_under_load(
        Faults.for_runner(runner), t.endpoints.gateway, t.api_key, CYCLES, RATE_PER_S, WARM_S, SETTLE_S
    )


def test_five_controlplane_restarts_under_load_fail_no_request(nemesis_topology):
    runner = nemesis_topology()
    cycles = restart_cycles(runner)
    report = cycles.traffic
    print(f"\n{cycles.line()}")
    assert report.total >= RATE_PER_S * (WARM_S + CYCLES * SETTLE_S) * 0.7, report.line()
    assert report.count("failed") == 0 and report.count("degraded") == 0, report.line()


def test_control_arm_a_controlplane_that_forgets_its_registry_fails_requests(nemesis_topology):
    runner = nemesis_topology(lambda t: with_args(t, "controlplane", without_persistence))
    assert "--state-file" not in runner.topology.component("controlplane").args
    cycles = restart_cycles(runner)
    report = cycles.traffic
    print(f"\ncontrol arm: {cycles.line()}")
    assert report.count("failed") + report.count("degraded") > 0, report.line()
