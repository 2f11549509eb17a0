"""A trace as a tree of text lines, for `gatemesh trace`: one line per span, indented under
its parent, with its service (and instance), duration, and what the patterns did — the
attempt and the instance it went to, the backoff before it, its outcome and reason, a
refusal, the deadline passed down, breaker and ejection events.

Reads the spans in the form Jaeger's HTTP query API returns them (`/api/traces/{id}`,
flattened by `gatemesh.runner.jaeger.JaegerQuery`): microsecond times, tags as key/value.
"""

from __future__ import annotations

from typing import Any

Span = dict[str, Any]


def tags(span: Span) -> dict[str, Any]:
    return {t["key"]: t["value"] for t in span.get("tags") or []}


def parent(span: Span, known: set[str]) -> str | None:
    for ref in span.get("references") or []:
        if ref.get("refType") == "CHILD_OF" and ref.get("spanID") in known:
            return str(ref["spanID"])
    return None  # a root, or a child of a span this trace does not hold (the client's own)


def children(spans: list[Span]) -> dict[str | None, list[Span]]:
    """Each span id's children, oldest first; the roots under None. The terminal tree and
    the dashboard's waterfall both walk this."""
    ids = {str(s["spanID"]) for s in spans}
    kids: dict[str | None, list[Span]] = {}
    for s in spans:
        kids.setdefault(parent(s, ids), []).append(s)
    for group in kids.values():
        group.sort(key=lambda s: s.get("startTime", 0))
    return kids


def _ms(us: float) -> str:
    return f"{us / 1000:.1f} ms"


def describe(span: Span) -> str:
    """What one span says, in one line (without the tree drawing)."""
    t = tags(span)
    who = span.get("service", "?")
    instance = (span.get("process_tags") or {}).get("service.instance.id")
    if instance and instance not in who:
        who += f" [{instance}]"
    parts = [span.get("operationName", "?"), f"({who})", _ms(span.get("duration", 0))]
    if "gatemesh.attempt" in t:
        parts.append(f"→ {t.get('gatemesh.instance')}")
        if t.get("gatemesh.backoff_ms"):
            parts.append(f"after {t['gatemesh.backoff_ms']} ms backoff")
        if "gatemesh.attempt_timeout_ms" in t:
            parts.append(f"timeout {t['gatemesh.attempt_timeout_ms']} ms")
        parts.append(str(t.get("gatemesh.outcome", "?")).upper())
    if t.get("gatemesh.refusal"):
        parts.append("REFUSED, no attempt")
    status = t.get("http.response.status_code")
    if status is not None:
        parts.append(str(status))
    if t.get("gatemesh.reason"):
        parts.append(f"reason={t['gatemesh.reason']}")
    if "gatemesh.deadline.received_ms" in t:
        parts.append(f"deadline {t['gatemesh.deadline.received_ms']} ms left on arrival")
    events = [f["value"] for log in span.get("logs") or [] for f in log.get("fields") or [] if f.get("key") == "event"]
    if events:
        parts.append("events: " + ", ".join(events))
    return "  ".join(parts)


def render(spans: list[Span]) -> list[str]:
    """The trace's lines: a header, then every span under its parent, oldest first."""
    if not spans:
        return []
    kids = children(spans)
    start = min(s.get("startTime", 0) for s in spans)
    end = max(s.get("startTime", 0) + s.get("duration", 0) for s in spans)
    services = sorted({s.get("service", "?") for s in spans})
    lines = [f"trace {spans[0]['traceID']}  {len(spans)} spans, {_ms(end - start)}, services: {', '.join(services)}"]

    def walk(span: Span, prefix: str, last: bool, root: bool) -> None:
        branch = "" if root else ("└─ " if last else "├─ ")
        lines.append(prefix + branch + describe(span))
        below = kids.get(str(span["spanID"]), [])
        inner = prefix + ("" if root else ("   " if last else "│  "))
        for i, child in enumerate(below):
            walk(child, inner, i == len(below) - 1, False)

    for root in kids.get(None, []):
        walk(root, "", True, True)
    return lines
