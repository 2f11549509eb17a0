"""Lab 10: Presets: what would Linkerd do?. Linkerd's defaults retry no reset: the same fault now shows."""

from __future__ import annotations

from ..context import LabContext
from ..lab import Lab, Verdict, verdict
from ._common import edge_policy


def presets_start(ctx: LabContext) -> None:
    edge_policy(ctx, "storefront", "retry.enabled=false")  # so the edge's retries do not hide what the mesh does


def presets_check(ctx: LabContext) -> Verdict:
    from gatemesh.presets import preset

    if ctx.policies.table("mesh").default != preset("linkerd"):
        return Verdict(False, "the mesh still runs gatemesh's defaults: apply Linkerd's preset (the lab's step)")
    with ctx.faults.reset_peer("pricing-1"):
        pages = ctx.load("/api/storefront/1", 20, concurrency=2)
    failed = sum(p.status != 200 for p in pages)
    return verdict(
        failed > 0,
        f"Linkerd's preset in the mesh, resets on pricing-1: {failed} of 20 pages failed (Linkerd retries no reset)",
        "no page failed: is the fault on?",
    )


LAB = Lab(
    10,
    "presets",
    "Presets: what would Linkerd do?",
    "Linkerd's defaults retry no reset: the same fault now shows",
    ("gatemesh policy preset linkerd --at mesh",),
    "`gatemesh policy presets` lists them with their sources",
    presets_start,
    presets_check,
    10,
)
