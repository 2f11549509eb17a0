"""Lab 3: Retries and idempotency. A retried POST with an Idempotency-Key makes exactly one order."""

from __future__ import annotations

import uuid

from ..context import LabContext
from ..lab import Lab, Verdict, verdict
from ._common import edge_policy, orders_count


def retries_start(ctx: LabContext) -> None:
    # retries off; the breaker and ejection off too, so that only retries decide (the
    # before-check's five failures would otherwise open orders' breaker for the after-check)
    edge_policy(ctx, "orders", "retry.enabled=false", "breaker.enabled=false", "outlier.enabled=false")


def retries_check(ctx: LabContext) -> Verdict:
    before = orders_count(ctx)
    keys = [f"lab-{uuid.uuid4().hex[:12]}" for _ in range(10)]
    with ctx.faults.limit_data("orders-1", bytes=1):  # the order is made, its answer cut after one byte
        answers = [
            ctx.call("/api/orders", "POST", {"product_id": 1, "quantity": 1}, {"Idempotency-Key": k}) for k in keys
        ]
    made = orders_count(ctx) - before
    acked = sum(a.status in (200, 201) for a in answers)
    measured = (
        f"10 orders, each with its own Idempotency-Key, orders-1's answers cut: {acked} acknowledged, {made} created"
    )
    return verdict(
        acked == 10 and made == 10,
        measured,
        "some orders were made but never acknowledged (no retry at the edge)"
        if made > acked
        else "orders were lost or duplicated",
    )


LAB = Lab(
    3,
    "retries",
    "Retries and idempotency",
    "a retried POST with an Idempotency-Key makes exactly one order",
    ("gatemesh policy set orders --at edge retry.enabled=true",),
    "only requests with an Idempotency-Key are retried; `curl -i` shows X-Gatemesh-Attempts",
    retries_start,
    retries_check,
    15,
)
