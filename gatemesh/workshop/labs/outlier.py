"""Lab 5: Outlier ejection, its cap and the panic threshold. Ejection removes failing instances, up to its cap and down to the panic threshold."""

from __future__ import annotations

from ..context import LabContext
from ..lab import Lab, Verdict, verdict
from ._common import edge_policy


def outlier_start(ctx: LabContext) -> None:
    edge_policy(ctx, "catalog", "breaker.enabled=false")


def outlier_check(ctx: LabContext) -> Verdict:
    bad = ("catalog-1", "catalog-2")
    with ctx.faults.misbehave(bad[0], error_status=503), ctx.faults.misbehave(bad[1], error_status=503):
        ctx.load("/api/catalog/1", 30, concurrency=1)
        before = ctx.instance_calls(*bad)
        ctx.load("/api/catalog/1", 20, concurrency=1)
        after = ctx.instance_calls(*bad)
    reached = {i: after[i] - before[i] for i in bad}
    measured = "2 of 3 catalog instances failing; the next 20 calls reached " + ", ".join(
        f"{i} {n} times" for i, n in reached.items()
    )
    return verdict(
        all(n == 0 for n in reached.values()),
        measured,
        "a failing instance is still in service (the ejection cap, or the panic threshold putting them back)",
    )


LAB = Lab(
    5,
    "outlier",
    "Outlier ejection, its cap and the panic threshold",
    "ejection removes failing instances, up to its cap and down to the panic threshold",
    ("gatemesh policy set catalog --at edge outlier.max_ejection_percent=67 outlier.panic_threshold_percent=0",),
    "`gatemesh lint --fault catalog-1:error --fault catalog-2:error` explains the cap and then the panic threshold",
    outlier_start,
    outlier_check,
    15,
)
