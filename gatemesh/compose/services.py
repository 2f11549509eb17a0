"""One compose service per component of a topology, plus the two that only compose has.

    component kind   compose service
    --------------   -------------------------------------------------------------------
    (credentials)    one-shot: makes the run's credentials on their volumes (``trust.py``),
                     the app image (and the one ``build:`` of the file, see below)
    toxiproxy        the Toxiproxy image, ``-config`` = every proxy of the topology
    controlplane     the app image, ``--credentials`` on its own trust volume
    service          the app image; owns the pod's network namespace
    sidecar          the app image, ``network_mode: service:<app>`` (loopback to its app)
    gateway          the app image, its config file mounted read-only
    dashboard        the app image, its parts file (addresses as seen from it) mounted
                     read-only; no supervisor here, so its process controls say so
    (setup)          sidecar-gateway only: PUTs API management to the control plane once
    (locust)         topologies with a gateway: Locust's web UI, under the ``load`` profile
    (jaeger)         every topology: the trace backend (``observability.py``)
    (prometheus)     every topology: scrapes every proxy and the control plane

Every Python component runs ``python -m <module> <args>`` from the definition with its
addresses rewritten (``addresses.Netns``) and ``--host 0.0.0.0`` added; the gateway's
listen addresses are rewritten in its config file instead.

Images: ``${APP_IMAGE:-gatemesh/app:dev}`` for everything in Python. Only ``credentials``
(the first Python service to start) carries ``build:`` (context: the repository; ``BASE_IMAGE`` defaults to the public
``python:3.11-slim``): every other Python service depends on it, so compose builds the
image once, before any of them needs it, and nobody else pulls a tag that no registry
has. An image that already exists is used as it is (``up --build`` rebuilds it).

Published on the host (127.0.0.1 only): the entry and the dashboard here, Jaeger's and
Prometheus's UIs (``observability.py``), Locust's under its profile; nothing else. What
tests and debugging need besides (the control plane, Toxiproxy's API, every app and
sidecar port) is the rendered override ``compose/<topology>.test.yml``
(``test_override_ports``). mTLS: every proxy reads ``GATEMESH_MTLS`` (``off`` unless
the shell running compose sets ``strict`` or ``permissive``).

Start order (``depends_on`` with ``condition: service_healthy``): each start group waits
for the group before it; a sidecar waits for its own app only (a pod needs its app's
namespace, not the other pods). Health: every component's ``health_url``, probed inside
its own namespace with bash's ``/dev/tcp`` (no curl in the image, and far cheaper than
starting Python every few seconds); Toxiproxy with its own CLI (its image has no shell).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from gatemesh.topology import RUN_DIR, Topology, TopologyError
from gatemesh.topology.build import GATEWAY_CONFIG, ORDERS_DB
from gatemesh.topology.dashboard import PARTS_FILE
from gatemesh.topology.model import CONTROLPLANE, DASHBOARD, GATEWAY, SERVICE, SIDECAR, TOXIPROXY, Component

from .addresses import ANY_HOST, Netns, namespace_of
from .emit import Flow, Quoted
from .observability import CONFIG_NAME, JAEGER, OTEL_ENV, PROMETHEUS, jaeger_service, prometheus_service
from .trust import CREDENTIALS, TrustPlan

APP_IMAGE = "${APP_IMAGE:-gatemesh/app:dev}"
TOXIPROXY_IMAGE = "${TOXIPROXY_IMAGE:-ghcr.io/shopify/toxiproxy:2.5.0}"  # the version scripts/install-toxiproxy.sh pins
BASE_IMAGE = "${BASE_IMAGE:-python:3.11-slim}"
BUILD = {
    "context": "..",  # the repository, seen from compose/
    "dockerfile": "compose/images/app.Dockerfile",
    "args": {"BASE_IMAGE": BASE_IMAGE},
}
BUILDER = CREDENTIALS  # the one service with build: every other Python service starts after it
MTLS_ENV = {"GATEMESH_MTLS": "${GATEMESH_MTLS:-off}"}  # the proxies' mode, as `gatemesh up --mtls` sets it

DATA_DIR = "/data"  # files a component writes (the orders SQLite file: a shared named volume)
ORDERS_VOLUME = "orders-data"
CONFIG_DIR = "/etc/gatemesh"  # the definition's files (the gateway's config), mounted read-only
TOXIPROXY_CONFIG = "/config/toxiproxy.json"
SETUP = "setup"  # the one-shot service of sidecar-gateway
LOCUST = "locust"
LOCUST_PORT = 8089
LOCUSTFILE = "/app/loadtests/shop.py"
LOAD_PROFILE = "load"

# Health probing. Docker 20.10 has no start_interval, so the interval is also how often a
# starting group is looked at: short enough for a quick bring-up, long enough that ~30
# containers' probes cost little CPU (each probe is a `docker exec`).
HEALTH_INTERVAL = "3s"
HEALTH_TIMEOUT = "3s"
HEALTH_RETRIES = 40  # 2 minutes of failed probes before "unhealthy"
STOP_GRACE = "5s"  # SIGTERM → SIGKILL, as the process runner does

LABEL = "org.gatemesh"  # label prefix on every container, network and volume


def config_path(topology: str, name: str) -> str:
    """A generated config file, relative to the compose file."""
    return f"./config/{topology}/{name}"


def labels(topology: Topology, component: str, kind: str) -> dict[str, str]:
    return {f"{LABEL}.topology": topology.name, f"{LABEL}.component": component, f"{LABEL}.kind": kind}


def http_probe(url: str) -> Flow:
    """A healthcheck that passes when ``GET url`` answers 200, run inside the container."""
    parts = urlsplit(url)
    request = f"GET {parts.path or '/'} HTTP/1.1\\r\\nHost: {parts.hostname}\\r\\nConnection: close\\r\\n\\r\\n"
    script = (
        f"exec 3<>/dev/tcp/{parts.hostname}/{parts.port} && printf '{request}' >&3 && head -n 1 <&3 | grep -q ' 200 '"
    )
    return Flow(["CMD", "bash", "-c", Quoted(script)])


def healthcheck(test: Flow) -> dict[str, Any]:
    return {"test": test, "interval": HEALTH_INTERVAL, "timeout": HEALTH_TIMEOUT, "retries": HEALTH_RETRIES}


def healthy(*names: str) -> dict[str, dict[str, str]]:
    return {n: {"condition": "service_healthy"} for n in names}


class ServiceRenderer:
    """Renders the compose services of one topology (see the module docstring)."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.netns = Netns.of(topology)
        self.published = self._published_ports()
        self.trust = TrustPlan(topology, (SETUP,) if topology.apimgmt is not None else ())

    # ------------------------------------------------------------------ the whole set

    def services(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {CREDENTIALS: self.credentials()}
        for c in self.topology.components:
            out[c.name] = self.component(c)
            if c.kind == CONTROLPLANE and self.topology.apimgmt is not None:
                out[SETUP] = self.setup()
        if self.topology.endpoints.gateway is not None:
            out[LOCUST] = self.locust()
        out[JAEGER] = jaeger_service(labels(self.topology, JAEGER, JAEGER), STOP_GRACE)
        out[PROMETHEUS] = prometheus_service(
            labels(self.topology, PROMETHEUS, PROMETHEUS), config_path(self.topology.name, CONFIG_NAME), STOP_GRACE
        )
        return out

    def test_override_ports(self) -> dict[str, list[Quoted]]:
        """Every other port of the topology's parts, by the service whose namespace has it,
        for tests and debugging: the control plane, Toxiproxy's API, the gateway's other
        listeners, every app (``/admin/*``) and sidecar port (inbound, outbound)."""
        extra: dict[str, list[Quoted]] = {}
        for c in self.topology.components:
            if c.kind in (CONTROLPLANE, TOXIPROXY, GATEWAY, SERVICE, SIDECAR):
                for p in c.listen.values():
                    ns = namespace_of(c)
                    if p not in self.published and _publish(p) not in extra.get(ns, []):
                        extra.setdefault(ns, []).append(_publish(p))
        return extra

    def credentials(self) -> dict[str, Any]:
        """The one-shot service that makes the credentials before anything else starts."""
        svc: dict[str, Any] = {"image": APP_IMAGE, "build": BUILD, **self.trust.init_service()}
        svc["labels"] = labels(self.topology, CREDENTIALS, CREDENTIALS)
        return svc

    def volumes(self) -> dict[str, Any]:
        """The file's named volumes: every trust volume, and the orders database's."""
        label = {f"{LABEL}.topology": self.topology.name}
        out: dict[str, Any] = dict(self.trust.volumes(label))
        if any(c.service == "orders" for c in self.topology.instances()):
            out[ORDERS_VOLUME] = {"labels": label}
        return out

    # ------------------------------------------------------------------ one component

    def component(self, c: Component) -> dict[str, Any]:
        if c.kind == TOXIPROXY:
            return self.toxiproxy(c)
        ns = namespace_of(c)
        volumes: list[str] = []
        args = [self._run_dir_arg(a, c, volumes) for a in c.args]
        argv = [self.netns.rewrite(a, ns) for a in ["python", "-m", str(c.module), *args]]
        if c.kind in (CONTROLPLANE, SERVICE, SIDECAR, DASHBOARD):
            argv += ["--host", ANY_HOST]
        if c.kind == CONTROLPLANE:
            # writes need a credential (trust.py); registrations may name only the proxies'
            # host, never the Toxiproxy API
            api = self.netns.rewrite(urlsplit(self.topology.endpoints.toxiproxy_api).netloc, ns)
            argv += [*self.trust.controlplane_args(), "--allow-host", api.rsplit(":", 1)[0], "--forbid-address", api]
        argv = self.trust.wrap(c, argv, volumes)
        svc: dict[str, Any] = {"image": APP_IMAGE, "command": Flow(argv)}
        env = dict(c.env)
        if c.kind in (GATEWAY, SIDECAR, SERVICE):  # spans go to the jaeger service (OTLP over HTTP)
            env.update(OTEL_ENV)
        if c.kind in (GATEWAY, SIDECAR):
            env.update(MTLS_ENV)
        if env:
            svc["environment"] = env
        if volumes:
            svc["volumes"] = volumes
        if c.kind == SIDECAR:
            svc["network_mode"] = f"service:{ns}"
        else:
            self._ports(svc, ns)
        svc["depends_on"] = self._depends_on(c)
        svc["healthcheck"] = healthcheck(http_probe(c.health_url))
        svc["labels"] = labels(self.topology, c.name, c.kind)
        svc["stop_grace_period"] = STOP_GRACE
        return svc

    def _run_dir_arg(self, arg: str, c: Component, volumes: list[str]) -> str:
        """A ``{run_dir}/<name>`` argument, placed in the container:

        - a file of the definition (``topology.files``: the gateway's config) → rendered
          under ``compose/config/<topology>/`` and mounted read-only in ``/etc/gatemesh``;
        - the orders database → ``/data`` on the named volume every orders instance shares;
        - anything else a component keeps (the control plane's state file) → ``/data`` on
          an anonymous volume of its own: it survives a restart of the container (a
          fault), and ``down -v`` removes it."""
        prefix = RUN_DIR + "/"
        if prefix not in arg:
            return arg
        name = arg.split(prefix, 1)[1]
        if name in self.topology.files:
            if name not in self.config_files():
                raise TopologyError(
                    f"compose: the definition's file {name!r} has no compose rendering; "
                    "teach gatemesh/compose/services.py how to rewrite its addresses"
                )
            volumes.append(f"{config_path(self.topology.name, name)}:{CONFIG_DIR}/{name}:ro")
            return arg.replace(RUN_DIR, CONFIG_DIR)
        if name == ORDERS_DB:
            volume = f"{ORDERS_VOLUME}:{DATA_DIR}"
        else:
            volume = DATA_DIR
        if volume not in volumes:
            volumes.append(volume)
        return arg.replace(RUN_DIR, DATA_DIR)

    def config_files(self) -> dict[str, Any]:
        """The definition's files as the containers read them (name → JSON data)."""
        out: dict[str, Any] = {}
        gateway = self.gateway_config()
        if gateway is not None:
            out[GATEWAY_CONFIG] = gateway
        if PARTS_FILE in self.topology.files:
            out[PARTS_FILE] = json.loads(self.netns.rewrite(self.topology.files[PARTS_FILE], DASHBOARD))
        return out

    def toxiproxy(self, c: Component) -> dict[str, Any]:
        args = list(c.args)
        args[args.index("-host") + 1] = ANY_HOST
        api = f"http://127.0.0.1:{c.listen['api']}"
        svc: dict[str, Any] = {
            "image": TOXIPROXY_IMAGE,
            "command": Flow([*args, "-config", TOXIPROXY_CONFIG]),
            "environment": dict(c.env),
            "volumes": [f"{config_path(self.topology.name, 'toxiproxy.json')}:{TOXIPROXY_CONFIG}:ro"],
        }
        self._ports(svc, c.name)
        svc["healthcheck"] = healthcheck(Flow(["CMD", "/toxiproxy-cli", "--host", api, "list"]))
        svc["labels"] = labels(self.topology, c.name, c.kind)
        svc["stop_grace_period"] = STOP_GRACE
        return svc

    def setup(self) -> dict[str, Any]:
        url = self.netns.rewrite(self.topology.endpoints.controlplane, SETUP) + "/v1/apimgmt"
        body = json.dumps(self.topology.apimgmt, sort_keys=True, separators=(",", ":"))
        volumes: list[str] = []
        argv = self.trust.wrap(SETUP, ["python", "-m", "gatemesh.compose.seed", "PUT", url, body], volumes)
        return {
            "image": APP_IMAGE,
            "command": Flow(argv),
            "volumes": volumes,
            "depends_on": healthy("controlplane"),
            "labels": labels(self.topology, SETUP, "setup"),
        }

    def locust(self) -> dict[str, Any]:
        host = "http://" + self.netns.dial(_address(self.topology.endpoints.entry), LOCUST)
        env = {"GATEMESH_API_KEY": self.topology.api_key} if self.topology.api_key else {}
        return {
            "image": APP_IMAGE,
            "profiles": [LOAD_PROFILE],
            "command": Flow(["locust", "-f", LOCUSTFILE, "--host", host, "--web-port", str(LOCUST_PORT)]),
            "environment": env,
            "volumes": ["../loadtests:/app/loadtests:ro"],
            "ports": [_publish(LOCUST_PORT)],
            "depends_on": healthy("gateway"),
            "labels": labels(self.topology, LOCUST, "load"),
        }

    def toxiproxy_config(self) -> list[dict[str, Any]]:
        """The ``-config`` file: every proxy, listening on every interface of Toxiproxy's
        container, forwarding to the pod (its sidecar's inbound port, or the app's)."""
        out = []
        for p in self.topology.proxies:
            body = p.to_api()
            body["listen"] = self.netns.listen(p.listen)
            body["upstream"] = self.netns.dial(p.upstream, "toxiproxy")
            out.append(body)
        return out

    def gateway_config(self) -> dict[str, Any] | None:
        config = self.topology.gateway_config
        if config is None:
            return None
        out = json.loads(json.dumps(config))
        # the admin listener too: the dashboard reaches it across the network (gateway:9901);
        # the host only through the tests' override, which publishes it
        for key in ("listen", "internal_listen", "admin_listen"):
            if out.get(key):
                out[key] = self.netns.listen(out[key])
        out["control_plane"] = self.netns.rewrite(out["control_plane"], "gateway")
        return out

    # ------------------------------------------------------------------ internals

    def _published_ports(self) -> set[int]:
        """What a user reaches from the host: the entry (the gateway, or a storefront sidecar
        where there is none) and the dashboard. Nothing of the mesh's insides."""
        e = self.topology.endpoints
        urls = [e.entry] + [u for u in (e.dashboard,) if u]
        return {int(urlsplit(u).port or 0) for u in urls}

    def _ports(self, svc: dict[str, Any], ns: str) -> None:
        mine = sorted(p for p in self.published if self.netns.owner(p) == ns)
        if mine:
            svc["ports"] = [_publish(p) for p in mine]

    def _depends_on(self, c: Component) -> dict[str, Any]:
        if c.kind == SIDECAR:
            deps = healthy(namespace_of(c))
            if self.topology.apimgmt is not None:
                deps[SETUP] = {"condition": "service_completed_successfully"}
            return deps
        before = [g for g in self.topology.groups() if g[0].group < c.group]
        deps = healthy(*(x.name for x in before[-1])) if before else {}
        if c.kind == CONTROLPLANE:  # its credentials file, made by the one-shot service
            deps[CREDENTIALS] = {"condition": "service_completed_successfully"}
        return deps


def _publish(port: int) -> Quoted:
    """Published on the host's loopback only, at the same port number as inside."""
    return Quoted(f"127.0.0.1:{port}:{port}")


def _address(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"
