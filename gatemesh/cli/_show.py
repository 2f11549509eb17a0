"""How a running topology is shown: endpoints, example calls, the instance table."""
from __future__ import annotations

from typing import Any

from gatemesh.runner.state import DEFAULT_NAME


def endpoints(status: dict[str, Any]) -> list[str]:
    rows = [
        ("dashboard", status.get("dashboard")),
        ("gateway", status.get("gateway") or "(none in this topology)"),
        ("storefront", status.get("storefront")),
        ("control plane", status.get("controlplane")),
        ("toxiproxy API", status.get("toxiproxy_api")),
        ("API key", status.get("api_key") or "(not checked in this topology)"),
        ("logs", status.get("log_dir")),
    ]
    return [f"  {k:<14} {v}" for k, v in rows if v]


def examples(status: dict[str, Any], name: str = DEFAULT_NAME) -> list[str]:
    key = status.get("api_key")
    h = f"-H 'X-Api-Key: {key}' " if key else ""
    gateway, storefront = status.get("gateway"), status.get("storefront")
    lines = []
    if gateway:
        lines += [
            f"  curl -s {h}{gateway}/api/products/1            # composed at the gateway",
            f"  curl -s {h}{storefront}/1          # composed in the mesh (storefront)",
            f"  curl -si {h}{gateway}/api/catalog/1 | grep -i x-instance   # who answered",
        ]
    else:
        lines += [
            f"  curl -s {h}{storefront}/products/1    # the storefront, through its sidecar",
            f"  curl -si {h}{storefront}/products/1 | grep -i x-instance   # who answered",
        ]
    tox = status.get("toxiproxy_api")
    lines += [
        f"  curl -s -X POST {tox}/proxies/catalog-1/toxics \\",
        "       -d '{\"type\": \"latency\", \"attributes\": {\"latency\": 1000}}'   # slow down catalog-1",
        f"  curl -s {status.get('controlplane')}/v1/services/catalog   # the registry",
    ]
    suffix = "" if name == DEFAULT_NAME else f" --name {name}"
    lines += [f"  gatemesh status{suffix}    gatemesh down{suffix}"]
    return lines


def instance_table(status: dict[str, Any]) -> list[str]:
    rows = [("NAME", "KIND", "PID", "STATE", "ADDRESS", "PROXY")]
    for i in status.get("instances", []):
        state = "paused" if i.get("paused") else ("up" if i.get("alive") else "DOWN")
        rows.append((i["name"], i["kind"], str(i["pid"]), state, i.get("address") or "-", i.get("proxy") or "-"))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
