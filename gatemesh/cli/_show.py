"""How a running topology is shown: endpoints, example calls, the instance table."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from gatemesh.runner.state import DEFAULT_NAME


def endpoints(status: dict[str, Any]) -> list[str]:
    rows = [
        ("dashboard", status.get("dashboard")),
        ("jaeger UI", status.get("jaeger")),
        ("gateway", status.get("gateway") or "(none in this topology)"),
        ("gateway admin", status.get("gateway_admin")),  # /-/policies, /-/upstreams, ...: loopback, not the public port
        ("storefront", status.get("storefront")),
        ("control plane", status.get("controlplane")),
        ("toxiproxy API", status.get("toxiproxy_api")),
        ("prometheus", status.get("prometheus")),
        ("API key", status.get("api_key") or "(not checked in this topology)"),
        ("admin token", status.get("admin_token_file")),  # control-plane writes: Authorization: Bearer <it>
        ("mTLS", f"{status['mtls']} (per sidecar and connection: gatemesh mtls)" if status.get("mtls") else None),
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
        '       -d \'{"type": "latency", "attributes": {"latency": 2000}}\'   # slow catalog-1 by 2 s (twice the 1 s timeout)',
        f"  curl -s {status.get('controlplane')}/v1/services/catalog   # the registry",
    ]
    suffix = "" if name == DEFAULT_NAME else f" --name {name}"
    gm = command_name()
    lines += [f"  {gm} status{suffix}    {gm} reset{suffix}    {gm} down{suffix}"]
    return lines


def command_name() -> str:
    """How to type `gatemesh` here: the bare name when it is on PATH (an activated venv),
    else the script's path relative to the current directory (`.venv/bin/gatemesh`)."""
    if shutil.which("gatemesh"):
        return "gatemesh"
    script = Path(sys.executable).parent / "gatemesh"
    try:
        return os.path.relpath(script)
    except ValueError:
        return str(script)


def instance_table(status: dict[str, Any]) -> list[str]:
    rows = [("NAME", "KIND", "PID", "STATE", "PORTS", "ADDRESS", "PROXY")]
    for i in status.get("instances", []):
        state = "paused" if i.get("paused") else ("up" if i.get("alive") else "DOWN")
        ports = " ".join(f"{role}={port}" for role, port in (i.get("listen") or {}).items()) or "-"
        rows.append((i["name"], i["kind"], str(i["pid"]), state, ports, i.get("address") or "-", i.get("proxy") or "-"))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)).rstrip() for r in rows]
