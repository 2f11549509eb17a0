"""Distributed tracing for the proxies: W3C trace context in and out, a server span per
request, a client span per attempt, a span per refusal, exported over OTLP to Jaeger.

The hot path with tracing off pays one branch: the proxy shell wraps its handler only
when a `Tracer` exists, and the pipeline checks `caller.tracer is not None` per attempt.
Everything else lives here:

  context.py   traceparent / tracestate parsing and formatting (W3C Trace Context)
  config.py    `TracingConfig` (endpoint, sampling ratio, queue sizes), from the env
  export.py    the OpenTelemetry SDK provider: OTLP over HTTP, batched, drops counted
  tracer.py    `Tracer`: the spans the shell and the pipeline open and close
"""

from __future__ import annotations

from typing import Any

__all__ = ["ids"]


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
