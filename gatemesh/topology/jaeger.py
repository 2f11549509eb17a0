"""Jaeger as a component of every local topology (unless `--no-jaeger`), its config file,
and the environment that points every proxy and app at it.

Jaeger v2 is an OpenTelemetry Collector build; with no config it serves its UI and query
API on port 16686 of every interface. The config here binds each listener it opens to
the topology's host (loopback) on the topology's own ports, so parallel test topologies
never collide, and opens no other: OTLP/HTTP in, the query API and UI out, the query
gRPC port (which the query extension always opens), and no collector metrics port.
"""

from __future__ import annotations

from .model import JAEGER, RUN_DIR, START_GROUPS, Component
from .ports import PortPlan

JAEGER_CONFIG = "jaeger.yaml"
MAX_TRACES = 20_000  # kept in memory; Jaeger's all-in-one keeps 100,000, a workshop run needs fewer


def jaeger_config(ports: PortPlan) -> str:
    """Jaeger v2's config (OpenTelemetry-Collector YAML): memory storage, loopback only."""
    host = ports.host
    return f"""# written by gatemesh (gatemesh/topology/jaeger.py): every listener on {host}
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memory_store:
        memory:
          max_traces: {MAX_TRACES}
  jaeger_query:
    storage:
      traces: memory_store
    enable_tracing: false
    http:
      endpoint: {host}:{ports.jaeger_query}
    grpc:
      endpoint: {host}:{ports.jaeger_grpc}
receivers:
  otlp:
    protocols:
      http:
        endpoint: {host}:{ports.jaeger_otlp}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memory_store
"""


def jaeger_component(ports: PortPlan) -> Component:
    return Component(
        name="jaeger",
        kind=JAEGER,
        program="jaeger",
        args=("--config", f"{RUN_DIR}/{JAEGER_CONFIG}"),
        health_url=ports.url(ports.jaeger_query) + "/api/services",
        listen={"otlp_http": ports.jaeger_otlp, "query": ports.jaeger_query, "query_grpc": ports.jaeger_grpc},
        group=START_GROUPS[JAEGER],
    )


def tracing_env(ports: PortPlan, ratio: float) -> dict[str, str]:
    """OpenTelemetry's own variables, read by the proxies (gatemesh.tracing) and the apps (the SDK)."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": ports.url(ports.jaeger_otlp), "OTEL_TRACES_SAMPLER_ARG": f"{ratio:g}"}
