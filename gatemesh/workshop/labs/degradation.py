"""Lab 8: Degradation, at the edge and in the mesh. An optional part missing gives a page marked degraded, not an error."""

from __future__ import annotations

from ..context import LabContext
from ..lab import Lab, Verdict, verdict


def degradation_check(ctx: LabContext) -> Verdict:
    pages = {"edge": ctx.call("/api/products/1"), "mesh": ctx.call("/api/storefront/1")}
    degraded = {at: p.status == 200 and "reviews" in ((p.body or {}).get("degraded") or []) for at, p in pages.items()}
    measured = ", ".join(
        f"page composed in the {at}: {p.status} degraded={(p.body or {}).get('degraded')}" for at, p in pages.items()
    )
    return verdict(all(degraded.values()), measured, "reviews still answers: take both instances away")


LAB = Lab(
    8,
    "degradation",
    "Degradation, at the edge and in the mesh",
    "an optional part missing gives a page marked degraded, not an error",
    ("gatemesh fault kill reviews-1", "gatemesh fault kill reviews-2"),
    "reviews is optional on a product page; catalog and pricing are critical",
    lambda ctx: None,
    degradation_check,
    10,
)
