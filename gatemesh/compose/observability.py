"""The observers every compose file has besides the topology: Jaeger and Prometheus.

    service      image (default: public)                 host (127.0.0.1 only)
    ----------   --------------------------------------   ------------------------------
    jaeger       ``jaegertracing/jaeger:2.13.0``          UI and query API on :16686
    prometheus   ``prom/prometheus:v2.42.0``              UI and HTTP API on :9090

Jaeger 2.13.0 is the release of v1.76.0, the version scripts/install-jaeger.sh builds for
the process runner; Prometheus 2.42.0 is Debian 12's, which the process runner runs. The
offline images (``compose/images/build-offline.sh --only jaeger|prometheus``) package
those same two and are picked with ``JAEGER_IMAGE`` / ``PROMETHEUS_IMAGE`` from
``.gatemesh/images.env``, as Toxiproxy's is.

Jaeger runs its all-in-one default (memory storage; the image sets
``JAEGER_LISTEN_HOST=0.0.0.0`` so OTLP on :4318 is reachable from the other containers);
every Python component gets ``OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318``, the
OpenTelemetry SDK's own variable. Prometheus scrapes the targets of
``gatemesh/topology/prometheus.py`` at their container addresses, from a generated
``config/<topology>/prometheus.yml``.

Neither has a healthcheck and nothing waits on them: observers never steer (traffic
does not wait for them, and an export to a Jaeger that is not up yet is dropped), and
the public and offline images do not share a tool to probe with.
"""

from __future__ import annotations

from typing import Any

from gatemesh.topology import Topology
from gatemesh.topology.prometheus import ScrapeConfig, config_file, targets

from .addresses import Netns
from .emit import Flow, Quoted

JAEGER = "jaeger"
JAEGER_IMAGE = "${JAEGER_IMAGE:-jaegertracing/jaeger:2.13.0}"  # = v1.76.0, scripts/install-jaeger.sh's
JAEGER_UI_PORT = 16686  # Jaeger's own: UI and query API (/api/traces/{id})
JAEGER_OTLP_HTTP_PORT = 4318  # OTLP over HTTP, the OpenTelemetry default
OTLP_ENDPOINT = f"http://{JAEGER}:{JAEGER_OTLP_HTTP_PORT}"
OTEL_ENV = {"OTEL_EXPORTER_OTLP_ENDPOINT": OTLP_ENDPOINT}

PROMETHEUS = "prometheus"
PROMETHEUS_IMAGE = "${PROMETHEUS_IMAGE:-prom/prometheus:v2.42.0}"  # Debian 12's version: the runner's
PROMETHEUS_PORT = 9090  # Prometheus's own
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"  # where both images look by default
PROMETHEUS_DATA = "/prometheus"  # the public image's volume; the offline image has it too
CONFIG_NAME = "prometheus.yml"  # under compose/config/<topology>/


def prometheus_config(topology: Topology, netns: Netns) -> str:
    """prometheus.yml listing every proxy and the control plane by container address."""
    found = [(name, kind, netns.dial(address, PROMETHEUS)) for name, kind, address in targets(topology.components)]
    return config_file(ScrapeConfig(), static=found)


def prometheus_service(labels: dict[str, str], config_path: str, stop_grace: str) -> dict[str, Any]:
    scrape = ScrapeConfig()
    return {
        "image": PROMETHEUS_IMAGE,
        "command": Flow(
            [
                f"--config.file={PROMETHEUS_CONFIG}",
                f"--storage.tsdb.path={PROMETHEUS_DATA}",
                f"--storage.tsdb.retention.time={scrape.retention}",
                f"--storage.tsdb.retention.size={scrape.retention_size}",
                f"--web.listen-address=0.0.0.0:{PROMETHEUS_PORT}",
                "--log.level=warn",
            ]
        ),
        "volumes": [f"{config_path}:{PROMETHEUS_CONFIG}:ro"],
        "ports": [_publish(PROMETHEUS_PORT)],
        "labels": labels,
        "stop_grace_period": stop_grace,
    }


def jaeger_service(labels: dict[str, str], stop_grace: str) -> dict[str, Any]:
    return {
        "image": JAEGER_IMAGE,
        "ports": [_publish(JAEGER_UI_PORT)],
        "labels": labels,
        "stop_grace_period": stop_grace,
    }


def _publish(port: int) -> Quoted:
    return Quoted(f"127.0.0.1:{port}:{port}")
