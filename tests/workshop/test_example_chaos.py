"""The example from docs/workshop/writing-a-chaos-test.md, run in CI as it is printed there.

Outcome: with the breaker on at the edge, a failing pricing-1 stops being called (at most
the half-open probes reach it); with it off (the control arm) about half the calls still do.
"""

import pytest


@pytest.mark.parametrize("breaker", [True, False], ids=["breaker-on", "control-arm"])
def test_a_breaker_stops_calls_to_a_failing_instance(gatemesh, clean, breaker):
    gatemesh.policies.set("pricing", "edge", settings=[f"breaker.enabled={breaker}", "outlier.enabled=false"])
    with gatemesh.faults.misbehave("pricing-1", error_rate=1.0, error_status=503):
        gatemesh.load("/api/pricing/1", 20)  # enough failures to trip it
        before = gatemesh.calls("pricing-1")
        answers = gatemesh.load("/api/pricing/1", 20)
        reached = gatemesh.calls("pricing-1") - before  # counted at the instance
    assert all(a.status == 200 for a in answers)  # retries hide the failures either way
    if breaker:
        assert reached <= 3, f"{reached} calls reached pricing-1 while its breaker was open"
    else:
        assert reached >= 8, f"only {reached} calls reached pricing-1 without a breaker"
