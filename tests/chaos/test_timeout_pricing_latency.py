"""timeout — pricing-1 answers 2 s late.

With a 300 ms timeout every call ends within 300 ms + a margin (the calls that meet
pricing-1 as a 504 ``timeout``); without it the calls that meet pricing-1 wait the 2 s.
"""

from __future__ import annotations

import pytest

from chaoslib import EDGE, MESH, only

LATENCY_MS = 2000
TIMEOUT_S = 0.3
MARGIN_S = 0.5  # a loaded 2-core machine: proxies, Python clients, scheduling
CALLS = 4  # round robin over 2 instances: 2 meet pricing-1

pytestmark = [pytest.mark.timeouts]
WHERE = [pytest.param(EDGE, marks=pytest.mark.edge), pytest.param(MESH, marks=pytest.mark.mesh)]
TIMEOUT = {"enabled": True, "attempt_timeout_s": TIMEOUT_S, "request_timeout_s": TIMEOUT_S}


@pytest.mark.parametrize("where", WHERE)
def test_timeout_bounds_every_call_to_a_slow_instance(chaos, where):
    chaos.set_policy(where, "pricing", only(timeout=TIMEOUT))
    chaos.faults.latency("pricing-1", ms=LATENCY_MS)
    results = chaos.burst(lambda i: chaos.call(where, "pricing"), CALLS, concurrency=CALLS)

    assert len(results) == CALLS
    assert max(r.elapsed_s for r in results) <= TIMEOUT_S + MARGIN_S, results
    timed_out = [r for r in results if r.status == 504]
    assert len(timed_out) == CALLS // 2, results
    assert all(r.reason == "timeout" for r in timed_out), results
    assert all(r.ok and r.instance == "pricing-2" for r in results if r.status != 504), results


@pytest.mark.parametrize("where", WHERE)
def test_control_without_timeout_calls_wait_for_the_slow_instance(chaos, where):
    chaos.set_policy(where, "pricing", only())
    chaos.faults.latency("pricing-1", ms=LATENCY_MS)
    results = chaos.burst(lambda i: chaos.call(where, "pricing"), CALLS, concurrency=CALLS)

    assert len(results) == CALLS and all(r.ok for r in results), results
    slow = [r for r in results if r.instance == "pricing-1"]
    assert len(slow) == CALLS // 2, results
    assert all(r.elapsed_s >= LATENCY_MS / 1000 for r in slow), results
