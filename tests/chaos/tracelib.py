"""Reading a call's trace back from the real Jaeger a test topology runs, through its HTTP
query API (`GET /api/traces/{id}`), and finding the spans a scenario is about.

Spans reach Jaeger a little after the call (the proxies' batch processor exports every
0.5 s, Jaeger's own batch every 0.2 s), so `wait_trace` polls until a condition holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gatemesh.runner.jaeger import JaegerQuery

TRACE_WAIT_S = 15.0  # export delay ~1 s; the bound for a loaded 2-core machine
CLIENT_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"  # the W3C spec's example id


def traceparent(trace_id: str = CLIENT_TRACE_ID, span_id: str = "00f067aa0ba902b7") -> str:
    return f"00-{trace_id}-{span_id}-01"


def tags(span: dict[str, Any]) -> dict[str, Any]:
    return {t["key"]: t["value"] for t in span.get("tags") or []}


def parent_id(span: dict[str, Any]) -> str | None:
    refs = [r for r in span.get("references") or [] if r.get("refType") == "CHILD_OF"]
    return refs[0]["spanID"] if refs else None


def attempts(spans: list[dict[str, Any]], service: str | None = None) -> list[dict[str, Any]]:
    """The attempt (client) spans, in attempt order, optionally of one proxy's service."""
    found = [s for s in spans if "gatemesh.attempt" in tags(s) and (service is None or s["service"] == service)]
    return sorted(found, key=lambda s: tags(s)["gatemesh.attempt"])


def servers(spans: list[dict[str, Any]], service: str) -> list[dict[str, Any]]:
    return [s for s in spans if s["service"] == service and tags(s).get("span.kind") == "server"]


def refusals(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in spans if tags(s).get("gatemesh.refusal") is True]


def children(spans: list[dict[str, Any]], of: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in spans if parent_id(s) == of["spanID"]]


def wait_trace(
    jaeger: JaegerQuery, trace_id: str, ready: Callable[[list[dict[str, Any]]], bool], timeout_s: float = TRACE_WAIT_S
) -> list[dict[str, Any]]:
    """The trace's spans once `ready(spans)` holds; fails naming what Jaeger had."""
    deadline = time.monotonic() + timeout_s
    spans: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        spans = jaeger.trace(trace_id)
        if spans and ready(spans):
            return spans
        time.sleep(0.25)
    summary = [(s["service"], s["operationName"], tags(s).get("gatemesh.instance")) for s in spans]
    raise AssertionError(f"trace {trace_id} not complete in Jaeger within {timeout_s}s; it has {summary}")
