"""The labs, in workshop order. Each check injects its own short fault, sends a bounded
load through the entry, counts at the instance, removes the fault and judges.

The start states switch *off* what the lab's step switches on, so a check measures the
step and not the defaults; `gatemesh lab start N` applies them after a full reset.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

import requests

from .context import LabContext, LabError
from .lab import Lab, Verdict, verdict


def _edge(ctx: LabContext, service: str, *settings: str) -> None:
    ctx.policies.set(service, "edge", settings=settings)


# 1 ------------------------------------------------------------------------------------
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


# 2 ------------------------------------------------------------------------------------
SLOW_MS = 1500  # well above the 1 s attempt timeout: a 1000 ms latency would be a coin toss


def timeouts_start(ctx: LabContext) -> None:
    _edge(ctx, "pricing", "timeout.enabled=false")


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


# 3 ------------------------------------------------------------------------------------
def retries_start(ctx: LabContext) -> None:
    _edge(ctx, "orders", "retry.enabled=false")


def _orders(ctx: LabContext) -> int:
    """How many orders exist, asked of an orders app itself (counted at the instance, not
    through the proxies whose breakers the lab is tripping). The instances share one database."""
    apps = [
        i["health"].rsplit("/health", 1)[0]
        for i in ctx.status["instances"]
        if i.get("service") == "orders" and i.get("kind") == "service" and i.get("alive", True)
    ]
    for app in apps:
        try:
            return int(requests.get(f"{app}/orders?limit=1", timeout=5).json()["count"])
        except (requests.RequestException, ValueError, KeyError):
            continue
    raise LabError("no orders instance answers GET /orders: is orders running? (gatemesh status)")


def retries_check(ctx: LabContext) -> Verdict:
    before = _orders(ctx)
    keys = [f"lab-{uuid.uuid4().hex[:12]}" for _ in range(10)]
    with ctx.faults.limit_data("orders-1", bytes=1):  # the order is made, its answer cut after one byte
        answers = [
            ctx.call("/api/orders", "POST", {"product_id": 1, "quantity": 1}, {"Idempotency-Key": k}) for k in keys
        ]
    made = _orders(ctx) - before
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


# 4 ------------------------------------------------------------------------------------
def breaker_start(ctx: LabContext) -> None:
    _edge(ctx, "pricing", "breaker.enabled=false", "outlier.enabled=false")


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


# 5 ------------------------------------------------------------------------------------
def outlier_start(ctx: LabContext) -> None:
    _edge(ctx, "catalog", "breaker.enabled=false")


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


# 6 ------------------------------------------------------------------------------------
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


# 7 ------------------------------------------------------------------------------------
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


# 8 ------------------------------------------------------------------------------------
def degradation_check(ctx: LabContext) -> Verdict:
    pages = {"edge": ctx.call("/api/products/1"), "mesh": ctx.call("/api/storefront/1")}
    degraded = {at: p.status == 200 and "reviews" in ((p.body or {}).get("degraded") or []) for at, p in pages.items()}
    measured = ", ".join(
        f"page composed in the {at}: {p.status} degraded={(p.body or {}).get('degraded')}" for at, p in pages.items()
    )
    return verdict(all(degraded.values()), measured, "reviews still answers: take both instances away")


# 9 ------------------------------------------------------------------------------------
def placement_start(ctx: LabContext) -> None:
    for at in ("edge", "mesh"):
        ctx.policies.set("pricing", at, settings=("timeout.enabled=false",))
    _edge(ctx, "storefront", "timeout.enabled=false")


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


# 10 -----------------------------------------------------------------------------------
def presets_start(ctx: LabContext) -> None:
    _edge(ctx, "storefront", "retry.enabled=false")  # so the edge's retries do not hide what the mesh does


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


LABS: tuple[Lab, ...] = (
    Lab(
        1,
        "tour",
        "The picture and the tour",
        "every call names the instance that answered; three share the load",
        ("gatemesh scale catalog 3",),
        "`gatemesh status` lists the instances; each answer's X-Instance names one",
        tour_start,
        tour_check,
        10,
    ),
    Lab(
        2,
        "timeouts",
        "Timeouts",
        "an attempt timeout turns a 1.5 s wait into a retry on another instance",
        ("gatemesh policy set pricing --at edge timeout.enabled=true",),
        "`gatemesh policy show pricing --at edge`: is timeout on, and attempt_timeout_s below the delay?",
        timeouts_start,
        timeouts_check,
        10,
    ),
    Lab(
        3,
        "retries",
        "Retries and idempotency",
        "a retried POST with an Idempotency-Key makes exactly one order",
        ("gatemesh policy set orders --at edge retry.enabled=true",),
        "only requests with an Idempotency-Key are retried; `curl -i` shows X-Gatemesh-Attempts",
        retries_start,
        retries_check,
        15,
    ),
    Lab(
        4,
        "breaker",
        "The circuit breaker",
        "an open breaker stops calling a failing instance and fails fast",
        ("gatemesh policy set pricing --at edge breaker.enabled=true",),
        "`gatemesh events --follow` shows the breaker's transitions",
        breaker_start,
        breaker_check,
        15,
    ),
    Lab(
        5,
        "outlier",
        "Outlier ejection, its cap and the panic threshold",
        "ejection removes failing instances, up to its cap and down to the panic threshold",
        ("gatemesh policy set catalog --at edge outlier.max_ejection_percent=67 outlier.panic_threshold_percent=0",),
        "`gatemesh lint --fault catalog-1:error --fault catalog-2:error` explains the cap and then the panic threshold",
        outlier_start,
        outlier_check,
        15,
    ),
    Lab(
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
    ),
    Lab(
        7,
        "discovery",
        "Discovery and losing the control plane",
        "proxies keep serving from their last known endpoints when the control plane is gone",
        ("gatemesh fault kill controlplane",),
        "the proxies cache endpoints and policies",
        lambda ctx: None,
        discovery_check,
        10,
    ),
    Lab(
        8,
        "degradation",
        "Degradation, at the edge and in the mesh",
        "an optional part missing gives a page marked degraded, not an error",
        ("gatemesh fault kill reviews-1", "gatemesh fault kill reviews-2"),
        "reviews is optional on a product page; catalog and pricing are critical",
        lambda ctx: None,
        degradation_check,
        10,
    ),
    Lab(
        9,
        "placement",
        "The same fault, the pattern at the edge or in the mesh",
        "a timeout in the mesh fixes the page composed in the mesh, and only that one",
        ("gatemesh policy set pricing --at mesh timeout.enabled=true",),
        "the gateway composes /api/products, storefront's sidecar serves /api/storefront",
        placement_start,
        placement_check,
        15,
    ),
    Lab(
        10,
        "presets",
        "Presets: what would Linkerd do?",
        "Linkerd's defaults retry no reset: the same fault now shows",
        ("gatemesh policy preset linkerd --at mesh",),
        "`gatemesh policy presets` lists them with their sources",
        presets_start,
        presets_check,
        10,
    ),
)


def lab(number: int) -> Lab:
    for candidate in LABS:
        if candidate.number == number:
            return candidate
    raise LabError(f"there is no lab {number}; the labs are 1 to {len(LABS)} (gatemesh lab list)")
