"""The live dashboard as a component of every topology, and the file it reads.

The dashboard (``gatemesh.dashboard``) only observes and drives the other parts over
their HTTP APIs, so it starts last (its own group) and nothing waits for it. It learns
what runs from ``parts.json`` in the run directory (written from the definition, so it
works under any runner) and, when a ``gatemesh up`` supervisor owns the run, from the
supervisor's live status in ``state.json`` beside it (alive, paused, scaled instances).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .model import DASHBOARD, RUN_DIR, START_GROUPS, Component, Endpoints
from .ports import PortPlan

PARTS_FILE = "parts.json"
STATE_FILE = "state.json"  # the supervisor's (gatemesh.runner.state), when one owns the run


def dashboard_component(ports: PortPlan) -> Component:
    return Component(
        name="dashboard",
        kind=DASHBOARD,
        module="gatemesh.dashboard",
        args=(
            "--host",
            ports.host,
            "--port",
            str(ports.dashboard),
            "--parts",
            f"{RUN_DIR}/{PARTS_FILE}",
            "--state",
            f"{RUN_DIR}/{STATE_FILE}",
        ),
        health_url=ports.url(ports.dashboard) + "/health",
        listen={"port": ports.dashboard},
        group=START_GROUPS[DASHBOARD],
    )


def parts_file(name: str, endpoints: Endpoints, api_key: str | None, components: Iterable[Component]) -> str:
    """What the dashboard watches: the endpoints and every component with its health URL
    (the base of its admin API) and its Toxiproxy proxy."""
    parts: list[dict[str, Any]] = [
        {
            "name": c.name,
            "kind": c.kind,
            "service": c.service,
            "proxy": c.proxy,
            "health": c.health_url,
            "listen": dict(c.listen),
        }
        for c in components
        if c.kind != DASHBOARD
    ]
    body = {
        "topology": name,
        "entry": endpoints.entry,
        "gateway": endpoints.gateway,
        "gateway_admin": endpoints.gateway_admin,
        "storefront": endpoints.storefront,
        "controlplane": endpoints.controlplane,
        "toxiproxy_api": endpoints.toxiproxy_api,
        "api_key": api_key,
        "instances": parts,
    }
    return json.dumps(body, indent=2) + "\n"
