"""Topology definitions: one per layout, shared by the process runner and docker compose.

    >>> from gatemesh.topology import build_topology, PortPlan
    >>> topo = build_topology("edge-mesh", PortPlan.from_base(20000), {"catalog": 5})
    >>> topo.endpoints.gateway
    'http://127.0.0.1:20080'

Everything here is data (frozen dataclasses); nothing here starts a process.
"""
from .apis import CATALOG_ONLY_KEY, DEMO_API_KEY
from .build import DEFAULT_TOPOLOGY, TOPOLOGIES, Layout, build_topology
from .counts import DEFAULT_COUNTS, SERVICES, parse_scale, resolve_counts
from .errors import TopologyError
from .model import RUN_DIR, Component, Endpoints, Proxy, Topology
from .ports import PortPlan

__all__ = [
    "CATALOG_ONLY_KEY",
    "DEFAULT_COUNTS",
    "DEFAULT_TOPOLOGY",
    "DEMO_API_KEY",
    "RUN_DIR",
    "SERVICES",
    "TOPOLOGIES",
    "Component",
    "Endpoints",
    "Layout",
    "PortPlan",
    "Proxy",
    "Topology",
    "TopologyError",
    "build_topology",
    "parse_scale",
    "resolve_counts",
]
