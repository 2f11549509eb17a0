"""What the HTTP core counts: refusals, closed connections, dropped interim answers.

The HTTP core sits below the proxies and knows nothing of their metrics, so it counts
into one process-wide table of plain integers (a proxy process is one proxy: the
gateway, or one sidecar with its two listeners). `gatemesh.metrics` exposes the table
as `gatemesh_http_events_total{proxy, event}` when `/metrics` is scraped; an event is a
refusal's `Reason` value (`request-timeout`, `bad-host`, ...) or a connection event
(`keepalive-idle-closed`, `upstream-idle-timeout-closed`, ...), each listed in
docs/http.md.
"""

from __future__ import annotations

import time

# event → [count, first seen (Unix time, Prometheus' `_created`)]
EVENTS: dict[str, list[float]] = {}


def count(event: str, n: int = 1) -> None:
    slot = EVENTS.get(event)
    if slot is None:
        EVENTS[event] = [n, time.time()]
    else:
        slot[0] += n


def snapshot() -> dict[str, int]:
    """Event counts so far (for tests and the admin API)."""
    return {k: int(v[0]) for k, v in EVENTS.items()}
