"""Lab 4: The circuit breaker. An open breaker stops calling a failing instance and fails fast."""

from __future__ import annotations

import time

from ..context import LabContext
from ..lab import Lab, Verdict, verdict
from ._common import edge_policy


def breaker_start(ctx: LabContext) -> None:
    edge_policy(ctx, "pricing", "breaker.enabled=false", "outlier.enabled=false")


def breaker_check(ctx: LabContext) -> Verdict:
    with ctx.faults.misbehave("pricing-1", error_rate=1.0, error_status=503):
        ctx.load("/api/pricing/1", 20, concurrency=1)  # the failures that should trip it
        before = ctx.faults.calls("pricing-1")
        t0 = time.monotonic()
        calls = ctx.load("/api/pricing/1", 20, concurrency=1)
        reached = ctx.faults.calls("pricing-1") - before
        window = time.monotonic() - t0
    ok = sum(c.status == 200 for c in calls)
    measured = (
        f"pricing-1 failing: {reached} of the next 20 calls still reached it in {window:.1f} s, {ok} of 20 answered 200"
    )
    return verdict(reached <= 2, measured, "pricing-1 keeps being called (no breaker at the edge)")


LAB = Lab(
    4,
    "breaker",
    "The circuit breaker",
    "an open breaker stops calling a failing instance and fails fast",
    ("gatemesh policy set pricing --at edge breaker.enabled=true",),
    "`gatemesh events --follow` shows the breaker's transitions",
    breaker_start,
    breaker_check,
    15,
)
