"""`gatemesh reset`: back to a fresh demo without a restart.

In this order, because each step assumes the one before: faults first (paused processes
resumed and killed ones restarted, so every proxy can answer the rest), then instance
counts back to the run's own, then every policy at both placements, then each proxy's
pattern state (`POST /-/reset`: breakers closed, ejections lifted, budgets refilled,
fallback caches emptied), and last a wait until every live proxy reports clean upstreams.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from gatemesh.runner.webclient import HttpError, json_request
from gatemesh.topology.counts import DEFAULT_COUNTS, SERVICES

from .context import LabContext

SETTLE_S = 5.0  # waiting for proxies to report clean state; reset aims at < 2 s, this is the bound


@dataclass
class ResetReport:
    faults: dict[str, list[str]] = field(default_factory=dict)
    scaled: dict[str, int] = field(default_factory=dict)
    proxies: list[str] = field(default_factory=list)
    unclean: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def sentence(self) -> str:
        parts = [f"{len(v)} {k}" for k, v in self.faults.items() if v]
        if self.scaled:
            parts.append("scaled " + ", ".join(f"{s} to {n}" for s, n in self.scaled.items()))
        parts.append(f"{len(self.proxies)} proxies reset")
        tail = f"; still settling: {', '.join(self.unclean)}" if self.unclean else ""
        return f"reset in {self.seconds:.1f} s: " + ", ".join(parts) + tail


def reset_all(ctx: LabContext, counts: dict[str, int] | None = None) -> ResetReport:
    t0 = time.monotonic()
    report = ResetReport()
    report.faults = ctx.faults.reset()
    want = dict(DEFAULT_COUNTS) | dict(counts or {})
    for service in SERVICES:
        if ctx.status["counts"].get(service) != want[service]:
            ctx.control.scale(service, want[service])
            report.scaled[service] = want[service]
    ctx.refresh()
    for service in (*SERVICES, "*"):
        ctx.policies.reset(service, "both")
    for base in ctx.proxies():
        try:
            json_request("POST", f"{base}/-/reset", {}, timeout_s=5.0)
            report.proxies.append(base)
        except (HttpError, OSError):
            pass  # a proxy without the endpoint (older) or one that is restarting
    report.unclean = _wait_clean(ctx)
    report.seconds = time.monotonic() - t0
    return report


def _wait_clean(ctx: LabContext) -> list[str]:
    deadline = time.monotonic() + SETTLE_S
    while True:
        unclean = [base for base in ctx.proxies() if not _clean(base)]
        if not unclean or time.monotonic() > deadline:
            return unclean
        time.sleep(0.05)


def _clean(base: str) -> bool:
    """Every breaker closed and nothing ejected in this proxy's `/-/upstreams`."""
    try:
        ups = json_request("GET", f"{base}/-/upstreams", timeout_s=2.0).get("upstreams", {})
    except (HttpError, OSError, AttributeError):
        return False
    for up in ups.values():
        breakers = [up.get("breaker", "closed"), *(up.get("instance_breakers") or {}).values()]
        if up.get("ejected") or any(b != "closed" for b in breakers):
            return False
    return True
