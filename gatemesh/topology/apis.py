"""The managed-API part of a topology: gateway routes, API keys, rate limit.

The same keys and rate limit go to the gateway (``edge``, ``edge-mesh``) and to the
control plane's ``/v1/apimgmt`` for the ``--expose`` sidecar (``sidecar-gateway``).
"""

from __future__ import annotations

from typing import Any

from .counts import SERVICES

DEMO_API_KEY = "demo-key"
CATALOG_ONLY_KEY = "catalog-only-key"  # shows 403: a valid key lacking the route
# Sized for the load examples (loadtests/, docs/experiments.md), so a demo measures the
# patterns and not the key: the largest, 50 Locust users at the shortest 0.1 s think time,
# sends at most 500 requests/s (issue 12: at 100/s a 30-user shop run got 21% rate-limited).
# Rate limiting is still shown on purpose with a flood, or a key of its own (docs/contracts.md).
DEFAULT_RATE_PER_S = 500.0  # sustained requests per second per key
DEFAULT_BURST = 1000  # requests a key may send at once after idling: 2 s at the rate

#: Path each service's collection lives under; the gateway route /api/<service> maps here.
SERVICE_PATHS = {
    "catalog": "/products",
    "pricing": "/prices",
    "inventory": "/stock",
    "reviews": "/reviews",
    "storefront": "/products",
    "orders": "/orders",
}


def routes() -> list[dict[str, str]]:
    """One route per service: ``/api/<service>`` → ``<service>`` with the prefix rewritten; each
    takes the demo API key or a bearer JWT from the control plane (docs/security.md)."""
    return [
        {"name": s, "prefix": f"/api/{s}", "service": s, "rewrite": SERVICE_PATHS[s], "auth": "api-key-or-jwt"}
        for s in SERVICES
    ]


def apimgmt(api_key: str, rate_per_s: float, burst: int) -> dict[str, Any]:
    """The API management config (schema: ``gatemesh/apimgmt.py``)."""
    return {
        "enabled": True,
        "keys": {api_key: {"routes": ["*"]}, CATALOG_ONLY_KEY: {"routes": ["catalog"]}},
        "rate_limit": {"enabled": True, "rate_per_s": rate_per_s, "burst": burst},
    }


def gateway_config(
    listen: str,
    internal_listen: str | None,
    control_plane: str,
    api: dict[str, Any],
    admin_listen: str | None = None,
) -> dict[str, Any]:
    """The gateway's config file (schema: docs/contracts.md)."""
    config: dict[str, Any] = {"listen": listen}
    if internal_listen is not None:
        config["internal_listen"] = internal_listen
    if admin_listen is not None:
        config["admin_listen"] = admin_listen
    config.update(
        {
            "control_plane": control_plane,
            "proxy_name": "gateway",
            "routes": routes(),
            "composition": {"enabled": True},
            "apimgmt": api,
            "policies": {"*": {}},
            "jwt": {},  # the control plane's issuer and JWKS, gatemesh.security.jwt's defaults
        }
    )
    return config
