"""Lab 7: Discovery and losing the control plane. Proxies keep serving from their last known endpoints when the control plane is gone."""

from __future__ import annotations

from ..context import LabContext
from ..lab import Lab, Verdict, verdict


def discovery_check(ctx: LabContext) -> Verdict:
    ctx.refresh()
    cp = next(i for i in ctx.status["instances"] if i["name"] == "controlplane")
    if cp.get("alive", True) and not cp.get("paused"):
        return Verdict(False, "the control plane is running: take it away first (the lab's step)")
    pages = ctx.load("/api/storefront/1", 30, concurrency=2) + ctx.load("/api/products/1", 30, concurrency=2)
    ok = sum(p.status == 200 for p in pages)
    return verdict(
        ok == len(pages),
        f"control plane down: {ok} of {len(pages)} pages answered from the proxies' last known endpoints",
        "pages failed without the control plane",
    )


LAB = Lab(
    7,
    "discovery",
    "Discovery and losing the control plane",
    "proxies keep serving from their last known endpoints when the control plane is gone",
    ("gatemesh fault kill controlplane",),
    "the proxies cache endpoints and policies",
    lambda ctx: None,
    discovery_check,
    10,
)
