"""Five control-plane restarts under 80 req/s through the gateway cost nothing (issue 12,
item 1): the control plane restores its registrations from the state file, so no proxy is
ever handed an empty or partial registry.

Control arm: yesterday's control plane (no state file, no warm-up) on the same topology,
same restarts, same load: services drop to zero endpoints after each restart and clients
see it (404 unknown-service, 503 no-healthy-upstream, degraded pages).
"""
from __future__ import annotations

import time

import pytest

from gatemesh.faults import Faults
from gatemesh.nemesis.traffic import Traffic
from gatemesh.runner import ProcessRunner

from conftest import with_args

CYCLES = 5
RATE_PER_S = 80.0
SETTLE_S = 3.0        # between restarts: one TTL, so each cycle starts from a whole registry
WARM_S = 2.0          # traffic before the first restart


def restart_cycles(runner: ProcessRunner) -> tuple[Traffic, list[float]]:
    faults = Faults.for_runner(runner)
    took = []
    with Traffic(runner.topology.endpoints.gateway, runner.topology.api_key, rate_per_s=RATE_PER_S,
                 max_s=120) as traffic:
        time.sleep(WARM_S)
        for n in range(CYCLES):
            t0 = time.monotonic()
            if n % 2:  # alternate a crash (kill -9, then start) with a clean restart (SIGTERM)
                faults.kill("controlplane").remove()
            else:
                faults.restart("controlplane")
            took.append(time.monotonic() - t0)
            time.sleep(SETTLE_S)
    return traffic, took


def without_persistence(args: tuple[str, ...]) -> tuple[str, ...]:
    out, skip = [], 0
    for a in args:
        if skip:
            skip -= 1
        elif a in ("--state-file", "--warmup-s"):
            skip = 1
        else:
            out.append(a)
    return tuple(out)


def test_five_controlplane_restarts_under_load_fail_no_request(nemesis_topology):
    runner = nemesis_topology()
    traffic, took = restart_cycles(runner)
    report = traffic.report
    print(f"\nrestarts took {', '.join(f'{t:.1f}s' for t in took)}; {report.line()}")
    assert report.total >= RATE_PER_S * (WARM_S + CYCLES * SETTLE_S) * 0.7, report.line()
    assert report.count("failed") == 0 and report.count("degraded") == 0, report.line()


def test_control_arm_a_controlplane_that_forgets_its_registry_fails_requests(nemesis_topology):
    runner = nemesis_topology(lambda t: with_args(t, "controlplane", without_persistence))
    assert "--state-file" not in runner.topology.component("controlplane").args
    traffic, took = restart_cycles(runner)
    report = traffic.report
    print(f"\ncontrol arm: restarts took {', '.join(f'{t:.1f}s' for t in took)}; {report.line()}")
    assert report.count("failed") + report.count("degraded") > 0, report.line()
