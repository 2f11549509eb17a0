"""``build_topology``: the four layouts, each defined once.

Every layout has Toxiproxy (one proxy per instance, named after it) and the control
plane (the registry). What differs is captured by ``Layout``:

======================  ========  =======  ===============================================
topology                sidecars  gateway  notes
======================  ========  =======  ===============================================
``edge``                no        yes      apps self-register; storefront calls out through
                                           the gateway's internal listener
``mesh``                yes       no       entry: a storefront sidecar's inbound port
``edge-mesh``           yes       yes      gateway → sidecars → apps
``sidecar-gateway``     yes       no       storefront sidecars ``--expose``: API keys and
                                           rate limits from the control plane's /v1/apimgmt
======================  ========  =======  ===============================================

In every layout the registry hands out an instance's Toxiproxy listener, so every call
to an instance crosses its proxy. Without sidecars the proxy forwards to the app and the
app registers itself; with sidecars it forwards to the sidecar's inbound port and the
sidecar registers the instance.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from . import apis
from .counts import SERVICES, resolve_counts
from .dashboard import PARTS_FILE, dashboard_component, parts_file
from .errors import TopologyError
from .jaeger import JAEGER_CONFIG, jaeger_component, jaeger_config, tracing_env
from .model import (
    CONTROLPLANE,
    GATEWAY,
    RUN_DIR,
    SERVICE,
    SIDECAR,
    START_GROUPS,
    TOXIPROXY,
    Component,
    Endpoints,
    Proxy,
    Topology,
)
from .ports import PortPlan
from .prometheus import ScrapeConfig, prometheus_component
from .prometheus import files as prometheus_files

DEFAULT_TTL_S = 3  # registration TTL; heartbeats renew it well within
TRACED = (SERVICE, SIDECAR, GATEWAY)  # the components that send spans when the topology runs Jaeger


@dataclass(frozen=True)
class Layout:
    description: str
    sidecars: bool  # one sidecar per instance, fronted by the instance's proxy
    gateway: bool  # an API gateway at the edge
    internal_listener: bool  # the gateway also routes east-west calls (apps' --outbound)
    expose: bool  # storefront's sidecars apply API management


TOPOLOGIES: Mapping[str, Layout] = {
    "edge": Layout("gateway only: the gateway calls instances directly", False, True, True, False),
    "mesh": Layout("sidecars only: services call each other through their sidecars", True, False, False, False),
    "edge-mesh": Layout("gateway → service mesh → microservices", True, True, False, False),
    "sidecar-gateway": Layout(
        "no gateway: the storefront's sidecars apply API keys and rate limits", True, False, False, True
    ),
}
DEFAULT_TOPOLOGY = "edge-mesh"
EXPOSED_SERVICE = "storefront"  # the service a client enters through without a gateway
ORDERS_DB = "orders.sqlite3"  # shared by every orders instance, in the run directory
GATEWAY_CONFIG = "gateway.json"


def build_topology(
    name: str,
    ports: PortPlan | None = None,
    counts: Mapping[str, int] | None = None,
    *,
    ttl_s: float = DEFAULT_TTL_S,
    api_key: str = apis.DEMO_API_KEY,
    rate_per_s: float = apis.DEFAULT_RATE_PER_S,
    burst: int = apis.DEFAULT_BURST,
    dashboard: bool = True,
    jaeger: bool = False,
    trace_ratio: float = 1.0,
    prometheus: bool = False,
) -> Topology:
    """The topology ``name`` on ``ports`` (default: ``PortPlan()``) with ``counts`` instances
    per service (default: ``DEFAULT_COUNTS``, partial overrides allowed). With ``jaeger`` the
    topology runs Jaeger and every proxy and app traces to it, sampling ``trace_ratio`` of
    new traces (off by default here: `gatemesh up` turns it on, compose has its own)."""
    layout = TOPOLOGIES.get(name)
    if layout is None:
        raise TopologyError(f"unknown topology {name!r}; choose one of: {', '.join(TOPOLOGIES)}")
    ports = ports or PortPlan()
    counts = resolve_counts(counts)
    options = {
        "ttl_s": ttl_s,
        "api_key": api_key,
        "rate_per_s": rate_per_s,
        "burst": burst,
        "dashboard": dashboard,
        "prometheus": prometheus,
    }
    if jaeger:  # only then: the options of a topology without tracing stay as they were
        options |= {"jaeger": True, "trace_ratio": trace_ratio}
        if isinstance(trace_ratio, bool) or not isinstance(trace_ratio, (int, float)) or not 0 <= trace_ratio <= 1:
            raise TopologyError(f"trace_ratio must be a number from 0 to 1, got {trace_ratio!r}")
    if not (isinstance(ttl_s, (int, float)) and ttl_s > 0):
        raise TopologyError(f"ttl_s must be a positive number of seconds, got {ttl_s!r}")
    ttl = _num(ttl_s)
    cp_url = ports.url(ports.controlplane)
    api = apis.apimgmt(api_key, rate_per_s, burst)

    components: list[Component] = [
        Component(
            name="toxiproxy",
            kind=TOXIPROXY,
            program="toxiproxy-server",
            args=("-host", ports.host, "-port", str(ports.toxiproxy)),
            health_url=ports.url(ports.toxiproxy) + "/version",
            listen={"api": ports.toxiproxy},
            group=START_GROUPS[TOXIPROXY],
            env={"LOG_LEVEL": "warn"},  # not a line per accepted connection
        ),
        Component(
            name="controlplane",
            kind=CONTROLPLANE,
            module="mesh.controlplane",
            # Policies survive a control-plane restart in the state file; for 2 s after a
            # restart, watches are refused so proxies keep their endpoints while the
            # instances re-register (they heartbeat every ttl/3 = 1 s).
            args=(
                "--port",
                str(ports.controlplane),
                "--state-file",
                f"{RUN_DIR}/controlplane-state.json",
                "--warmup-s",
                "2",
            ),
            health_url=cp_url + "/health",
            listen={"port": ports.controlplane},
            group=START_GROUPS[CONTROLPLANE],
        ),
    ]
    proxies: list[Proxy] = []
    sidecars: list[Component] = []
    for service_index, service in enumerate(SERVICES):
        for n in range(1, counts[service] + 1):
            slot = ports.slot((n - 1) * len(SERVICES) + service_index)
            instance = f"{service}-{n}"
            advertise = ports.address(slot["proxy"])
            app_args = ["--instance", instance, "--port", str(slot["app"])]
            if layout.sidecars:
                app_args += ["--outbound", ports.url(slot["sidecar_outbound"])]
                upstream = ports.address(slot["sidecar_inbound"])
            else:
                app_args += ["--register", cp_url, "--advertise", advertise, "--ttl-s", ttl]
                if layout.internal_listener:
                    app_args += ["--outbound", ports.url(ports.gateway_internal)]
                upstream = ports.address(slot["app"])
            if service == "orders":
                app_args += ["--db", f"{RUN_DIR}/{ORDERS_DB}"]
            components.append(
                Component(
                    name=instance,
                    kind=SERVICE,
                    module=f"services.{service}",
                    args=tuple(app_args),
                    health_url=ports.url(slot["app"]) + "/health",
                    listen={"port": slot["app"]},
                    group=START_GROUPS[SERVICE],
                    service=service,
                    instance=instance,
                    address=advertise,
                    proxy=instance,
                )
            )
            proxies.append(Proxy(name=instance, listen=advertise, upstream=upstream))
            if layout.sidecars:
                sidecar_args = [
                    "--service",
                    service,
                    "--instance",
                    instance,
                    "--app",
                    ports.address(slot["app"]),
                    "--inbound-port",
                    str(slot["sidecar_inbound"]),
                    "--outbound-port",
                    str(slot["sidecar_outbound"]),
                    "--advertise",
                    advertise,
                    "--control-plane",
                    cp_url,
                    "--ttl-s",
                    ttl,
                ]
                if layout.expose and service == EXPOSED_SERVICE:
                    sidecar_args.append("--expose")
                sidecars.append(
                    Component(
                        name=f"sidecar-{instance}",
                        kind=SIDECAR,
                        module="mesh.sidecar",
                        args=tuple(sidecar_args),
                        # the outbound port (app-local, never mTLS) answers /health and /-/* as the inbound
                        # one does, and still does in strict mode, where the inbound takes TLS only (issue 15)
                        health_url=ports.url(slot["sidecar_outbound"]) + "/health",
                        listen={"inbound": slot["sidecar_inbound"], "outbound": slot["sidecar_outbound"]},
                        group=START_GROUPS[SIDECAR],
                        service=service,
                        instance=instance,
                        address=advertise,
                        proxy=instance,
                    )
                )
    components += sidecars

    gateway_config: dict[str, Any] | None = None
    files: dict[str, str] = {}
    if layout.gateway:
        listen = {"listen": ports.gateway}
        internal = None
        if layout.internal_listener:
            listen["internal"] = ports.gateway_internal
            internal = ports.address(ports.gateway_internal)
        listen["admin"] = ports.gateway_admin
        gateway_config = apis.gateway_config(
            ports.address(ports.gateway), internal, cp_url, api, ports.address(ports.gateway_admin)
        )
        files[GATEWAY_CONFIG] = json.dumps(gateway_config, indent=2) + "\n"
        components.append(
            Component(
                name="gateway",
                kind=GATEWAY,
                module="gateway",
                args=("--config", f"{RUN_DIR}/{GATEWAY_CONFIG}"),
                # on the admin listener, as a sidecar's is on its admin (outbound) port: the health URL is
                # the base of a proxy's admin API for everyone who drives it (CLI, dashboard, tests)
                health_url=ports.url(ports.gateway_admin) + "/health",
                listen=listen,
                group=START_GROUPS[GATEWAY],
            )
        )

    if jaeger:
        env = tracing_env(ports, trace_ratio)
        components = [replace(c, env={**c.env, **env}) if c.kind in TRACED else c for c in components]
    endpoints = _endpoints(layout, ports, sidecars, dashboard, prometheus)
    key = api_key if (layout.gateway or layout.expose) else None
    if dashboard:
        files[PARTS_FILE] = parts_file(name, endpoints, key, components)
        components.append(dashboard_component(ports))
    if prometheus:
        scrape = ScrapeConfig()
        files.update(prometheus_files(components, scrape))
        components.append(prometheus_component(ports, scrape))
    if jaeger:  # after the dashboard's parts file: Jaeger has no admin API for it to watch
        components.insert(1, jaeger_component(ports))  # beside Toxiproxy, in the first start group
        files[JAEGER_CONFIG] = jaeger_config(ports)
        endpoints = replace(endpoints, jaeger=ports.url(ports.jaeger_query))
    return Topology(
        name=name,
        ports=ports,
        counts=counts,
        options=options,
        components=tuple(components),
        proxies=tuple(proxies),
        endpoints=endpoints,
        api_key=key,
        gateway_config=gateway_config,
        apimgmt=api if layout.expose else None,
        files=files,
    )


def _endpoints(
    layout: Layout, ports: PortPlan, sidecars: list[Component], dashboard: bool, prometheus: bool
) -> Endpoints:
    gateway = ports.url(ports.gateway) if layout.gateway else None
    if layout.sidecars:
        first = next(c for c in sidecars if c.service == EXPOSED_SERVICE)
        storefront_sidecar = ports.url(first.listen["inbound"])
    if gateway is not None:
        storefront = gateway + f"/api/{EXPOSED_SERVICE}"
        entry = gateway
    else:
        storefront = storefront_sidecar
        entry = storefront_sidecar
    return Endpoints(
        entry=entry,
        gateway=gateway,
        gateway_admin=ports.url(ports.gateway_admin) if layout.gateway else None,
        storefront=storefront,
        controlplane=ports.url(ports.controlplane),
        toxiproxy_api=ports.url(ports.toxiproxy),
        dashboard=ports.url(ports.dashboard) + "/" if dashboard else None,
        prometheus=ports.url(ports.prometheus) if prometheus else None,
    )


def _num(x: float) -> str:
    """3 -> "3", 2.5 -> "2.5" (command lines read better without a trailing .0)."""
    return str(int(x)) if float(x).is_integer() else str(x)


def rescale(topology: Topology, counts: Mapping[str, int]) -> Topology:
    """The same topology with some instance counts changed; nothing already planned moves.
    (Here, not a method of Topology: the model must not import the builder that imports it.)"""
    return build_topology(topology.name, topology.ports, {**topology.counts, **counts}, **topology.options)
