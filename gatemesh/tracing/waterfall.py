"""A trace as waterfall rows, for the dashboard's trace page (gatemesh/dashboard/traceview.py):
the same spans and the same reading of their attributes as `gatemesh trace`
(gatemesh.tracing.tree), laid out for drawing instead of printing — one row per span in
tree order, its depth, and where its bar starts and ends as fractions of the trace.

Times stay as Jaeger gives them (microseconds); only the offsets are made relative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .tree import Span, children, tags


@dataclass(frozen=True)
class Row:
    span_id: str
    name: str  # the operation, e.g. "GET catalog" or "attempt 2"
    service: str  # the Jaeger service: gateway, catalog-sidecar, catalog …
    instance: str | None  # the process's service.instance.id (catalog-2), when it has one
    depth: int  # 0 for a root; indent by this
    start_us: float  # from the trace's first span
    duration_us: float
    kind: str  # server | client | internal
    attempt: int | None  # gatemesh.attempt: set only on a proxy's attempt span
    target: str | None  # the instance the attempt went to (gatemesh.instance)
    outcome: str | None  # ok | error | timeout … (gatemesh.outcome)
    reason: str | None  # gatemesh.reason: upstream-reset, circuit-open …
    status: int | None  # http.response.status_code
    refusal: bool  # a proxy refused without calling (breaker, budget, overload, deadline)
    backoff_ms: float | None  # slept before this attempt
    attempt_timeout_ms: float | None  # the attempt's own timeout
    events: list[tuple[float, str]] = field(default_factory=list)  # (offset µs, name): breaker-open …


@dataclass(frozen=True)
class Waterfall:
    trace_id: str
    duration_us: float
    services: list[str]
    rows: list[Row]


def _events(span: Span, t0: float) -> list[tuple[float, str]]:
    found = []
    for log in span.get("logs") or []:
        for f in log.get("fields") or []:
            if f.get("key") == "event":
                found.append((float(log.get("timestamp", t0)) - t0, str(f.get("value"))))
    return found


def _row(span: Span, depth: int, t0: float) -> Row:
    t = tags(span)
    attempt = t.get("gatemesh.attempt")
    status = t.get("http.response.status_code")
    return Row(
        span_id=str(span["spanID"]),
        name=str(span.get("operationName", "?")),
        service=str(span.get("service", "?")),
        instance=(span.get("process_tags") or {}).get("service.instance.id"),
        depth=depth,
        start_us=float(span.get("startTime", t0)) - t0,
        duration_us=float(span.get("duration", 0)),
        kind=str(t.get("span.kind", "internal")),
        attempt=int(attempt) if attempt is not None else None,
        target=t.get("gatemesh.instance"),
        outcome=t.get("gatemesh.outcome"),
        reason=t.get("gatemesh.reason"),
        status=int(status) if status is not None else None,
        refusal=t.get("gatemesh.refusal") is True,
        backoff_ms=t.get("gatemesh.backoff_ms"),
        attempt_timeout_ms=t.get("gatemesh.attempt_timeout_ms"),
        events=_events(span, t0),
    )


def layout(spans: list[Span]) -> Waterfall | None:
    """The rows in tree order (a parent, then its children oldest first); None for no spans."""
    if not spans:
        return None
    kids = children(spans)
    t0 = min(float(s.get("startTime", 0)) for s in spans)
    end = max(float(s.get("startTime", 0)) + float(s.get("duration", 0)) for s in spans)
    rows: list[Row] = []

    def walk(span: Span, depth: int) -> None:
        rows.append(_row(span, depth, t0))
        for child in kids.get(str(span["spanID"]), []):
            walk(child, depth + 1)

    for root in kids.get(None, []):
        walk(root, 0)
    services = sorted({str(s.get("service", "?")) for s in spans})
    return Waterfall(str(spans[0]["traceID"]), max(end - t0, 1.0), services, rows)


def as_json(w: Waterfall) -> dict[str, Any]:
    return {
        "trace_id": w.trace_id,
        "duration_us": w.duration_us,
        "services": w.services,
        "rows": [r.__dict__ for r in w.rows],
    }
