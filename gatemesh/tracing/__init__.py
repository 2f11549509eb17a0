"""Distributed tracing for the proxies: W3C trace context in and out, a server span per
request, a client span per attempt, a span per refusal, exported over OTLP to Jaeger.

The hot path with tracing off pays one branch: the proxy shell wraps its handler only
when a `Tracer` exists, and the pipeline checks `caller.tracer is not None` per attempt.
Everything else lives here:

  context.py   traceparent / tracestate parsing and formatting (W3C Trace Context)
  config.py    `TracingConfig` (endpoint, sampling ratio, queue sizes), from the env
  export.py    the OpenTelemetry SDK provider: OTLP over HTTP, batched, drops counted
  current.py   the request's server span, in a context variable (no SDK import)
  tracer.py    `Tracer`: the spans the shell and the pipeline open and close
"""

from __future__ import annotations

from typing import Any

from .current import CURRENT as _CURRENT

__all__ = ["event", "from_env", "ids", "make_tracer"]


def ids(req: Any) -> tuple[str, str]:
    """(trace id, span id) of the server span this proxy opened for `req`, as lower-case
    hex, or ("", "") when the request is not traced (tracing off, or not sampled)."""
    span = getattr(req, "trace", None)
    if span is None:
        return "", ""
    ctx = span.get_span_context()
    if not ctx.trace_flags.sampled:
        return "", ""
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


def from_env(proxy: str, service: str, instance: str, env: Any = None) -> Any:
    """This process's `Tracer` from OpenTelemetry's environment variables (config.py), or
    None when tracing is off: then the SDK is not even imported."""
    import os

    from .config import TracingConfig

    cfg = TracingConfig.from_env(os.environ if env is None else env)
    if not cfg.enabled:
        return None
    return make_tracer(proxy, cfg, service, instance)


def make_tracer(proxy: str, cfg: Any, service: str, instance: str, exporter: Any = None) -> Any:
    from .export import build_provider
    from .tracer import Tracer

    provider, sampler, counts = build_provider(cfg, service, instance, exporter)
    return Tracer(proxy, cfg, provider.get_tracer("gatemesh"), sampler, counts, provider)


def event(kind: str, upstream: str = "", instance: str = "", cause: str = "") -> None:
    """A timeline event as a span event on the current request's server span, if traced.
    Costs a context-variable read when tracing is off (the events are rare)."""
    span = _CURRENT.get()
    if span is not None and span.is_recording():
        span.add_event(kind, {"gatemesh.upstream": upstream, "gatemesh.instance": instance, "gatemesh.cause": cause})


def register_metrics(tracer: Any, registry: Any) -> None:
    """The tracer's counts on the proxy's /metrics: malformed traceparents, span drops."""
    from prometheus_client.metrics_core import CounterMetricFamily

    class _Collector:
        def describe(self) -> list[Any]:
            return []

        def collect(self) -> Any:
            malformed = CounterMetricFamily(
                "gatemesh_trace_context_malformed",
                "Requests whose traceparent was malformed (a new trace each).",
                labels=["proxy"],
            )
            malformed.add_metric([tracer.proxy], tracer.malformed_traceparent)
            spans = CounterMetricFamily(
                "gatemesh_trace_spans", "Sampled spans by what became of them.", labels=["proxy", "result"]
            )
            for result, n in tracer.counts.to_dict().items():
                spans.add_metric([tracer.proxy, result], n)
            yield malformed
            yield spans

    registry.register(_Collector())
