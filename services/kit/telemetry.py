"""Tracing for the sample services, with OpenTelemetry's own instrumentation for aiohttp:
nothing of gatemesh's, as any instrumented app in a mesh would do it.

The server instrumentation continues the trace the sidecar (or gateway) sent in
`traceparent` and records each handler; the client instrumentation records each outbound
call (the storefront's calls to its parts) and puts its own span in that call's
`traceparent`. Configured by OpenTelemetry's standard environment variables (the runner
sets them): no OTEL_EXPORTER_OTLP_ENDPOINT, no tracing.

The sampler is parent-based with new traces off: the proxy in front decides, and the
kit's own traffic (health checks, /admin/*, registration heartbeats) starts no trace.
"""

from __future__ import annotations

import os
import threading
from typing import Any

EXCLUDED_URLS_ENV = "OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS"
EXPORT_TIMEOUT_S = 2.0  # one OTLP request (the SDK's 10 s): a dead backend frees the export worker sooner
FLUSH_LIMIT_S = 1.0  # the last spans at shutdown; within the drain's grace period


def setup_tracing(service: str, instance: str) -> Any:
    """Instrument aiohttp (before any Application or ClientSession exists) and return the
    TracerProvider, or None when no OTLP endpoint is configured."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("GATEMESH_TRACING", "").lower() == "off":
        return None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

    provider = TracerProvider(
        sampler=ParentBased(root=ALWAYS_OFF),
        resource=Resource.create({"service.name": service, "service.instance.id": instance}),
        shutdown_on_exit=False,  # `flush` exports what is left, bounded; an atexit flush would not be
    )
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(timeout=EXPORT_TIMEOUT_S), schedule_delay_millis=500)
    )
    trace.set_tracer_provider(provider)
    os.environ.setdefault(EXCLUDED_URLS_ENV, "/health,/admin/.*")  # read when instrumenting
    AioHttpServerInstrumentor().instrument(tracer_provider=provider)
    AioHttpClientInstrumentor().instrument(tracer_provider=provider)
    return provider


def flush(provider: Any) -> None:
    """Export what is left, bounded: on a daemon thread, so a dead backend holds neither
    the exit nor anything else."""
    if provider is None:
        return
    worker = threading.Thread(target=provider.shutdown, name="otel-flush", daemon=True)
    worker.start()
    worker.join(FLUSH_LIMIT_S)
