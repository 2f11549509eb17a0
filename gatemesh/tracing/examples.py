"""Example traces for an experiment's report: for one arm's time window, a trace id of each
thing a reader wants to look at — a retried call, a timed-out attempt, a fail-fast refusal —
found by Jaeger's own tag search (`/api/traces?service=…&tags=…&start=…&end=…`), so the
report can say "open this one" next to its numbers.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from gatemesh.runner.errors import RunnerError
from gatemesh.runner.jaeger import JaegerQuery

# What to look for, each a span attribute set by gatemesh.tracing.tracer; in report order.
KINDS: dict[str, dict[str, str]] = {
    "retried call": {"http.request.resend_count": "1"},
    "timed-out attempt": {"gatemesh.reason": "timeout"},
    "fail-fast refusal": {"gatemesh.refusal": "true"},
}
SERVICES = ("gateway", "storefront-sidecar")  # the experiment's callers, as Jaeger names them


def find_examples(
    jaeger_url: str, start_s: float, end_s: float, services: tuple[str, ...] = SERVICES
) -> dict[str, Any]:
    """{kind: trace id or None}; {} (never an error) when Jaeger cannot be asked."""
    query = JaegerQuery(jaeger_url)
    found: dict[str, Any] = {}
    try:
        for kind, tags in KINDS.items():
            found[kind] = None
            for service in services:
                body = query._get(  # noqa: SLF001 (the same client, a query it has no method for)
                    "/api/traces",
                    {
                        "service": service,
                        "tags": json.dumps(tags),
                        "start": int(start_s * 1e6),
                        "end": int(end_s * 1e6),
                        "limit": 1,
                    },
                )
                data = (body or {}).get("data") or []
                if data:
                    found[kind] = data[0]["traceID"]
                    break
    except RunnerError:
        return {}
    return found


def trace_url(jaeger_url: str, trace_id: str) -> str:
    return f"{jaeger_url.rstrip('/')}/api/traces/{urllib.parse.quote(trace_id)}"
