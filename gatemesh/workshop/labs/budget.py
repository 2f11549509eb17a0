"""Lab 6: Retry budgets and storms across hops. A retry budget keeps tries from multiplying per hop."""

from __future__ import annotations

from ..context import LabContext
from ..lab import Lab, Verdict, verdict


def budget_start(ctx: LabContext) -> None:
    for at, service in (("edge", "storefront"), ("mesh", "pricing")):
        ctx.policies.set(
            service, at, settings=("budget.enabled=false", "breaker.enabled=false", "outlier.enabled=false")
        )


def budget_check(ctx: LabContext) -> Verdict:
    bad = ("pricing-1", "pricing-2")
    with ctx.faults.misbehave(bad[0], error_status=503), ctx.faults.misbehave(bad[1], error_status=503):
        before = sum(ctx.instance_calls(*bad).values())
        pages = ctx.load("/api/storefront/1", 20, concurrency=2)
        reached = sum(ctx.instance_calls(*bad).values()) - before
    per_page = reached / max(len(pages), 1)
    measured = f"pricing down, 20 pages composed in the mesh: {reached} calls reached pricing, {per_page:.1f} per page"
    return verdict(
        per_page <= 4.0,
        measured,
        "tries multiply: the gateway's tries × the sidecar's tries (3 × 3 = 9) with no budget",
    )


LAB = Lab(
    6,
    "budget",
    "Retry budgets and storms across hops",
    "a retry budget keeps tries from multiplying per hop",
    (
        "gatemesh policy set storefront --at edge budget.enabled=true budget.min_retries_per_s=0",
        "gatemesh policy set pricing --at mesh budget.enabled=true budget.min_retries_per_s=0",
    ),
    "`gatemesh lint` flags tries that multiply without a budget",
    budget_start,
    budget_check,
    15,
)
