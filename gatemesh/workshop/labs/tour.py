"""Lab 1: The picture and the tour. Every call names the instance that answered; three share the load."""

from __future__ import annotations

from collections import Counter

from ..context import LabContext
from ..lab import Lab, Verdict, verdict


def tour_start(ctx: LabContext) -> None:
    ctx.control.scale("catalog", 1)


def tour_check(ctx: LabContext) -> Verdict:
    calls = ctx.load("/api/catalog/1", 30, concurrency=1)
    spread = Counter(c.instance for c in calls if c.status == 200)
    measured = "30 calls to /api/catalog/1 answered by " + ", ".join(f"{i} {n}" for i, n in sorted(spread.items()))
    return verdict(
        len(spread) >= 3 and min(spread.values()) >= 5,
        measured,
        "fewer than three catalog instances share the calls (run three)",
    )


LAB = Lab(
    1,
    "tour",
    "The picture and the tour",
    "every call names the instance that answered; three share the load",
    ("gatemesh scale catalog 3",),
    "`gatemesh status` lists the instances; each answer's X-Instance names one",
    tour_start,
    tour_check,
    10,
)
