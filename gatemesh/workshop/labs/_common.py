"""What several labs share: setting an edge policy, counting orders at the instance."""

from __future__ import annotations

import requests

from gatemesh.security.credentials import bearer

from ..context import LabContext, LabError


def edge_policy(ctx: LabContext, service: str, *settings: str) -> None:
    ctx.policies.set(service, "edge", settings=settings)


def orders_count(ctx: LabContext) -> int:
    """How many orders exist, asked of an orders app itself (counted at the instance, not
    through the proxies whose breakers the lab is tripping). The instances share one database."""
    apps = [
        i["health"].rsplit("/health", 1)[0]
        for i in ctx.status["instances"]
        if i.get("service") == "orders" and i.get("kind") == "service" and i.get("alive", True)
    ]
    for app in apps:
        try:
            # the app's own port: behind a sidecar it answers the run's admin token only
            resp = requests.get(f"{app}/orders?limit=1", headers=bearer(ctx.faults.token), timeout=5)
            return int(resp.json()["count"])
        except (requests.RequestException, ValueError, KeyError):
            continue
    raise LabError("no orders instance answers GET /orders: is orders running? (gatemesh status)")
