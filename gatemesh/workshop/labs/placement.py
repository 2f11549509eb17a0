"""Lab 9: The same fault, the pattern at the edge or in the mesh. A timeout in the mesh fixes the page composed in the mesh, and only that one."""

from __future__ import annotations

from ..context import LabContext
from ..lab import Lab, Verdict, verdict
from ._common import edge_policy


def placement_start(ctx: LabContext) -> None:
    for at in ("edge", "mesh"):
        ctx.policies.set("pricing", at, settings=("timeout.enabled=false",))
    edge_policy(ctx, "storefront", "timeout.enabled=false")


def placement_check(ctx: LabContext) -> Verdict:
    with ctx.faults.latency("pricing-1", ms=2000):
        mesh = ctx.load("/api/storefront/1", 8, concurrency=2)
        edge = ctx.load("/api/products/1", 8, concurrency=2)
    worst = {at: max(c.elapsed_s for c in calls) for at, calls in (("mesh", mesh), ("edge", edge))}
    measured = (
        f"pricing-1 delayed 2 s: slowest page composed in the mesh {worst['mesh'] * 1000:.0f} ms, "
        f"at the edge {worst['edge'] * 1000:.0f} ms"
    )
    return verdict(
        worst["mesh"] < 1.6 and worst["edge"] >= 1.9,
        measured,
        "the timeout must act in the mesh only: the mesh page fast, the edge page still slow",
    )


LAB = Lab(
    9,
    "placement",
    "The same fault, the pattern at the edge or in the mesh",
    "a timeout in the mesh fixes the page composed in the mesh, and only that one",
    ("gatemesh policy set pricing --at mesh timeout.enabled=true",),
    "the gateway composes /api/products, storefront's sidecar serves /api/storefront",
    placement_start,
    placement_check,
    15,
)
