"""Lab 2: Timeouts. An attempt timeout turns a 1.5 s wait into a retry on another instance."""

from __future__ import annotations

from ..context import LabContext
from ..lab import Lab, Verdict, verdict
from ._common import edge_policy

SLOW_MS = 1500  # well above the 1 s attempt timeout: a 1000 ms latency would be a coin toss


def timeouts_start(ctx: LabContext) -> None:
    edge_policy(ctx, "pricing", "timeout.enabled=false")


def timeouts_check(ctx: LabContext) -> Verdict:
    with ctx.faults.latency("pricing-1", ms=SLOW_MS):
        calls = ctx.load("/api/pricing/1", 12, concurrency=2)
    slow = [c for c in calls if c.elapsed_s >= SLOW_MS / 1000 - 0.05]
    worst = max(c.elapsed_s for c in calls)
    ok = sum(c.status == 200 for c in calls)
    measured = (
        f"pricing-1 delayed {SLOW_MS} ms: {len(slow)} of {len(calls)} calls took the full delay, "
        f"slowest {worst * 1000:.0f} ms, {ok} answered 200"
    )
    return verdict(
        not slow and ok == len(calls), measured, "calls still wait out the delay (no attempt timeout at the edge)"
    )


LAB = Lab(
    2,
    "timeouts",
    "Timeouts",
    "an attempt timeout turns a 1.5 s wait into a retry on another instance",
    ("gatemesh policy set pricing --at edge timeout.enabled=true",),
    "`gatemesh policy show pricing --at edge`: is timeout on, and attempt_timeout_s below the delay?",
    timeouts_start,
    timeouts_check,
    10,
)
