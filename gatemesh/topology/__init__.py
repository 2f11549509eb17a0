"""Topology definitions: one per layout, shared by the process runner and docker compose.

    >>> from gatemesh.topology import build_topology, PortPlan
    >>> topo = build_topology("edge-mesh", PortPlan.from_base(20000), {"catalog": 5})
    >>> topo.endpoints.gateway
    'http://127.0.0.1:20080'

Everything here is data (frozen dataclasses); nothing here starts a process.

Rendering a topology elsewhere (docker compose), from the same data:

- command: ``component.command(python="python", toxiproxy="toxiproxy-server", run_dir="/data")``
  (``module`` + ``args`` are kept apart from the interpreter for exactly this);
- ``topology.files`` are written into the run directory (``gateway.json``); the orders
  SQLite file lives there too, so it must be one volume shared by the orders instances;
- ``topology.proxies``: ``[p.to_api() for p in proxies]`` is both the body of Toxiproxy's
  ``POST /populate`` (what the process runner does) and the format of its ``-config`` file;
- ``topology.apimgmt`` (sidecar-gateway only) is PUT to the control plane's ``/v1/apimgmt``;
- ``health_url`` → healthcheck, ``group`` → depends_on (each group waits for the one before);
- every address uses ``PortPlan.host`` (127.0.0.1): containers sharing one network
  namespace can use the command lines unchanged.
"""

from .apis import CATALOG_ONLY_KEY, DEMO_API_KEY
from .build import DEFAULT_TOPOLOGY, TOPOLOGIES, Layout, build_topology, rescale
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
    "rescale",
    "resolve_counts",
]
