"""breaker — reviews-1 (the only reviews instance) fails every call with a 503, after
making the caller wait 500 ms.

With the breaker: it opens after 5 failures in a row; while open, calls fail fast with
``circuit-open`` (no 500 ms wait) and reviews-1 receives nothing but the half-open
probes (counted at the instance); once the fault clears, a probe succeeds and the
breaker closes. Without it: reviews-1 keeps receiving every call, and every call waits.
"""

from __future__ import annotations

import statistics
import time

import pytest

from chaoslib import EDGE, MESH, only

DELAY_MS = 500  # each failure takes this long
THRESHOLD = 5  # consecutive failures that open the breaker
OPEN_S = 1.0  # open → half-open
PROBES = 1  # half-open probes (and successes needed to close)
FAST_P50_S = 0.1  # "a few ms" unloaded; room for a loaded 2-core machine
FAST_MAX_S = DELAY_MS / 1000 * 0.6
OPEN_CALLS = 20  # calls sent while open (bounded by OPEN_S / 2 as well)
CONTROL_CALLS = 10
PROBE_PHASE_S = 2 * OPEN_S  # calls keep coming for this long while the fault stays
CLOSE_MARGIN_S = 1.0

pytestmark = [pytest.mark.breaker]
WHERE = [pytest.param(EDGE, marks=pytest.mark.edge), pytest.param(MESH, marks=pytest.mark.mesh)]
BREAKER = {"enabled": True, "consecutive_failures": THRESHOLD, "open_s": OPEN_S, "half_open_max_probes": PROBES}


@pytest.mark.parametrize("where", WHERE)
def test_breaker_opens_fails_fast_lets_only_probes_through_and_closes(chaos, where):
    chaos.set_policy(where, "reviews", only(breaker=BREAKER))
    chaos.faults.misbehave("reviews-1", error_rate=1.0, error_status=503, delay_ms=DELAY_MS)
    chaos.reset_stats("reviews-1")

    # 1. the breaker opens within its threshold: exactly THRESHOLD calls reach the instance
    first = chaos.burst(lambda i: chaos.call(where, "reviews"), THRESHOLD, concurrency=THRESHOLD)
    assert all(r.status == 503 and r.reason != "circuit-open" for r in first), first
    opened_at = time.monotonic()
    assert chaos.stats("reviews-1") == THRESHOLD

    # 2. while open: fail fast, nothing reaches the instance
    fast = []
    while len(fast) < OPEN_CALLS and time.monotonic() - opened_at < OPEN_S / 2:
        fast.append(chaos.call(where, "reviews"))
    assert len(fast) >= 3, "too few calls fitted in half the open time to judge"
    assert all(r.status == 503 and r.reason == "circuit-open" for r in fast), fast
    assert statistics.median(r.elapsed_s for r in fast) <= FAST_P50_S, fast
    assert max(r.elapsed_s for r in fast) <= FAST_MAX_S, fast
    assert chaos.stats("reviews-1") == THRESHOLD

    # 3. the fault stays: only half-open probes reach the instance, one per open period
    before = chaos.stats("reviews-1")
    probing_from = time.monotonic()
    calls = 0
    while time.monotonic() - probing_from < PROBE_PHASE_S:
        chaos.call(where, "reviews")
        calls += 1
        time.sleep(0.02)
    probes = chaos.stats("reviews-1") - before
    most = PROBES * (int(PROBE_PHASE_S / OPEN_S) + 1)
    assert 1 <= probes <= most, f"{probes} calls reached reviews-1 out of {calls} (at most {most} probes expected)"

    # 4. the fault clears: the next probe succeeds and the breaker closes
    chaos.faults.reset()
    cleared_at = time.monotonic()
    while True:
        r = chaos.call(where, "reviews")
        if r.ok:
            break
        assert r.reason == "circuit-open", r
        assert time.monotonic() - cleared_at <= OPEN_S + CLOSE_MARGIN_S, "the breaker did not close"
        time.sleep(0.02)
    after = [chaos.call(where, "reviews") for _ in range(5)]
    assert all(r.ok and r.instance == "reviews-1" for r in after), after
    up = chaos.upstreams(where)["reviews"]
    assert up["breaker"] == "closed" and set(up["instance_breakers"].values()) <= {"closed"}, up


@pytest.mark.parametrize("where", WHERE)
def test_control_without_breaker_the_failing_instance_gets_every_call(chaos, where):
    chaos.set_policy(where, "reviews", only())
    chaos.faults.misbehave("reviews-1", error_rate=1.0, error_status=503, delay_ms=DELAY_MS)
    chaos.reset_stats("reviews-1")
    results = chaos.burst(lambda i: chaos.call(where, "reviews"), CONTROL_CALLS, concurrency=THRESHOLD)

    assert all(r.status == 503 and r.reason != "circuit-open" for r in results), results
    assert all(r.elapsed_s >= DELAY_MS / 1000 for r in results), results
    assert chaos.stats("reviews-1") == CONTROL_CALLS
